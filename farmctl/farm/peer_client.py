"""Calls from this node to the other farmctl nodes sharing its store, signed (:mod:`farmctl.auth.peers`).

The interface, all async, one ``PeerClient`` per farm (``farm.peers``):

``await peers.request(node_url, method, path, json=None, role=Role.VIEWER, user=None) -> PeerReply``
    One call to another node's HTTP API (``path`` as the receiver serves it, query included,
    e.g. ``"/api/farm/printers"``); ``PeerReply.status`` and ``PeerReply.data`` (the decoded JSON
    body, or None). Any HTTP status comes back as a reply; only an unreachable node, a timeout
    or an answer that is not JSON raise :class:`PeerUnavailable`.
``await peers.get_json(node_url, path, role=Role.VIEWER) -> Any``
    ``request`` for reads that must succeed: a non-2xx status raises :class:`PeerUnavailable`
    with the receiver's ``{"error": ...}`` text.
``async with peers.websocket(node_url, path) as ws:``
    A websocket to another node (its push channel), signed like a GET of ``path``; ``async for
    frame in ws`` ends when it closes. Failing to open it raises :class:`PeerUnavailable`.
``peers.stream(node_url, path, max_bytes) -> AsyncIterator[bytes]``
    A body (an upload) as it arrives, for ``async for``; raises :class:`PeerUnavailable` for any
    failure, a refusal (non-200) or a body over ``max_bytes`` included. ``aclose()`` it when
    stopping early.

``role`` is the role the call acts with: a node forwarding a user's action passes that user's role
(and ``user`` their name), so the receiver checks the call as strictly as the user's own; a node's
own reads use ``Role.VIEWER``. Nodes are found with ``farm.model.nodes.live()`` (their ``url``).
Errors name the node's URL and what failed, never a header or the secret.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from farmctl.auth.peers import PeerAuth
from farmctl.auth.roles import Role
from farmctl.errors import FarmctlError

TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=15.0)
"""A node that answers nothing for this long is taken as away; a long download keeps going while bytes flow."""
CHUNK = 256 * 1024
WS_HEARTBEAT = 10.0
"""A websocket to another node pings this often and closes when a pong is missed (a node gone
without closing its sockets, as in a power cut, is noticed within twice this)."""


class PeerUnavailable(FarmctlError):
    """Another node could not be reached, or did not answer as asked (502 to an HTTP caller)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 502)


@dataclass(frozen=True, slots=True)
class PeerReply:
    status: int
    data: Any
    """The decoded JSON body; None for an empty one."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        """The receiver's ``{"error": ...}`` text, or the status."""
        if isinstance(self.data, dict) and isinstance(self.data.get("error"), str):
            return self.data["error"]
        return f"HTTP {self.status}"


class PeerClient:
    """Signed HTTP calls to the other nodes over one aiohttp session (opened on first use)."""

    def __init__(self, auth: PeerAuth, *, clock: Callable[[], float] = time.time,
                 timeout: aiohttp.ClientTimeout = TIMEOUT) -> None:
        self._auth = auth
        self._clock = clock
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def request(self, node_url: str, method: str, path: str, *, json: Any = None,
                      role: Role = Role.VIEWER, user: str | None = None) -> PeerReply:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        url, headers = self._signed(node_url, method, path, body, role, user)
        if body:
            headers["Content-Type"] = "application/json"
        try:
            async with self._client().request(method, url, data=body or None, headers=headers,
                                              allow_redirects=False) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerUnavailable(f"node at {node_url} did not answer {method} {path}: {_why(exc)}") from None
        try:
            data = jsonlib.loads(text) if text.strip() else None
        except ValueError:
            raise PeerUnavailable(f"node at {node_url} answered {method} {path} with HTTP {status} that is "
                                  "not JSON") from None
        return PeerReply(status, data)

    async def get_json(self, node_url: str, path: str, *, role: Role = Role.VIEWER) -> Any:
        reply = await self.request(node_url, "GET", path, role=role)
        if not reply.ok:
            raise PeerUnavailable(f"node at {node_url} refused GET {path}: {reply.error}")
        return reply.data

    @contextlib.asynccontextmanager
    async def websocket(self, node_url: str, path: str, *,
                        role: Role = Role.VIEWER) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        url, headers = self._signed(node_url, "GET", path, b"", role, None)
        try:
            ws = await self._client().ws_connect(url, headers=headers, heartbeat=WS_HEARTBEAT, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            raise PeerUnavailable(f"node at {node_url} refused the websocket {path}: HTTP {exc.status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerUnavailable(f"node at {node_url} did not open the websocket {path}: {_why(exc)}") from None
        try:
            yield ws
        finally:
            await ws.close()

    async def stream(self, node_url: str, path: str, max_bytes: int) -> AsyncIterator[bytes]:
        url, headers = self._signed(node_url, "GET", path, b"", Role.VIEWER, None)
        received = 0
        try:
            async with self._client().get(url, headers=headers, allow_redirects=False) as response:
                if response.status != 200:
                    reply = PeerReply(response.status, await _json_or_none(response))
                    raise PeerUnavailable(f"node at {node_url} refused GET {path}: {reply.error}")
                async for chunk in response.content.iter_chunked(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise PeerUnavailable(f"node at {node_url} sent more than {max_bytes} bytes for {path}")
                    yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PeerUnavailable(f"node at {node_url} did not send {path}: {_why(exc)}") from None

    def _signed(self, node_url: str, method: str, path: str, body: bytes, role: Role,
                user: str | None) -> tuple[URL, dict[str, str]]:
        if not path.startswith("/"):
            raise ValueError(f"a peer path starts with '/': {path!r}")
        url = URL(node_url.rstrip("/") + path, encoded=True)
        return url, self._auth.sign(method, url.raw_path_qs, body, self._clock(), role, user)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return jsonlib.loads(await response.text())
    except (ValueError, aiohttp.ClientError):
        return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
