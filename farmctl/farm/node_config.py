"""farm.toml's keys for a farm of several nodes: where the others reach this node, and where
uploads are shared.

``node_url`` is what this node writes into the shared store with its heartbeat, so the other
nodes can call it (fetch an upload it holds, show and drive its printers). It must be a plain
``http(s)://host[:port][/prefix]`` URL: no user or password (peers authenticate otherwise, see
:mod:`farmctl.auth.peers`), no query or fragment. Without it, the node advertises its host name
and the port it serves on (see :func:`default_node_url`).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from farmctl.farm.checks import typed

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_HOST = frozenset({"", "0.0.0.0", "::"})


def node_url(value: Any) -> str:
    """A checked ``node_url``, without a trailing slash."""
    url = typed(value, str, "node_url").strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # ValueError for a port that is no number or out of range
    except ValueError:
        raise ValueError(f"node_url {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"node_url must be an http(s):// URL the other nodes reach this node at, like "
                         f"\"http://pi-2.local:5000\", not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("node_url must not hold a user or password (nodes authenticate each other through "
                         "the shared database)")
    if parts.query or parts.fragment:
        raise ValueError(f"node_url must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def shared_uploads(value: Any) -> Path:
    """A checked ``shared_uploads``: an absolute folder path (it need not exist yet at load time)."""
    text = typed(value, str, "shared_uploads").strip()
    if not text or not Path(text).is_absolute():
        raise ValueError(f"shared_uploads must be an absolute folder path, like \"/mnt/farm/uploads\", "
                         f"not {text!r}")
    return Path(text)


def advertised_note(url: str | None) -> str:
    """What an operator should know about the URL a node advertises: a loopback one reaches only
    nodes on this machine."""
    host = urlsplit(url or "").hostname or ""
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        return (" (a loopback address: only nodes on this machine reach it; serve with --host 0.0.0.0 "
                "or set node_url in farm.toml)")
    return ""


def default_node_url(host: str, port: int) -> str:
    """The URL to advertise when farm.toml names none: the address ``serve`` listens on, or this
    machine's host name when it listens on every address."""
    if host in ANY_HOST:
        host = socket.getfqdn() or socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"
