"""Announce each printer's OctoPrint-compatible port over zeroconf as ``_octoprint._tcp``.

Slicers and phone apps find OctoPrint instances this way. The ``zeroconf`` package is optional
(``pip install zeroconf``); without it farmctl simply does not announce.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from farmctl.http.octoprint_settings import upnp_uuid

log = logging.getLogger(__name__)

SERVICE_TYPE = "_octoprint._tcp.local."
OCTOPRINT_VERSION = "1.11.8"


@dataclass(frozen=True, slots=True)
class Announced:
    name: str  # the printer
    port: int
    path: str  # where its OctoPrint API lives on that port


class Announcer:
    """Registered services; ``await close()`` withdraws them."""

    def __init__(self, zeroconf: Any, infos: list[Any]) -> None:
        self._zeroconf = zeroconf
        self._infos = infos

    async def close(self) -> None:
        for info in self._infos:
            await self._zeroconf.async_unregister_service(info)
        await self._zeroconf.async_close()


async def announce(printers: list[Announced], host: str) -> Announcer | None:
    """Register one service per printer; None when zeroconf is not installed or the network refuses.

    An announcement that fails is logged and never stops the server.
    """
    try:
        from zeroconf import IPVersion, ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf
    except ImportError:
        return None
    address = host if host not in ("0.0.0.0", "") else _primary_address()
    zeroconf = None
    try:
        zeroconf = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
        infos = []
        for printer in printers:
            info = ServiceInfo(
                SERVICE_TYPE, f"{printer.name}.{SERVICE_TYPE}", addresses=[socket.inet_aton(address)],
                port=printer.port, server=f"farmctl-{printer.name}.local.",
                properties={"path": printer.path, "version": OCTOPRINT_VERSION, "api": "0.1",
                            "uuid": upnp_uuid(printer.name)},
            )
            await zeroconf.async_register_service(info)
            infos.append(info)
    except Exception as exc:  # an optional nicety: whatever zeroconf raises, the farm goes on
        log.warning("zeroconf announcement failed: %s", exc)
        if zeroconf is not None:
            await zeroconf.async_close()
        return None
    return Announcer(zeroconf, infos)


def _primary_address() -> str:
    """This machine's own address for the announcement when listening on every interface."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
