"""Several farmctl nodes in one process, each a whole ``Farm`` with its HTTP app on 127.0.0.1,
sharing one PostgreSQL store, with simulated printers over real ptys.

One process rather than several keeps each test within seconds (a ``farmctl serve`` child takes
about two to start); everything between the nodes still goes over real HTTP and the real store.
``tests/server/test_nodes_share_a_queue.py`` runs real ``farmctl serve`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app
from farmctl.printer import PrinterState


@dataclass
class Node:
    farm: Farm
    url: str
    key: str
    """An admin key (the store is shared, so it opens every node)."""
    runner: web.AppRunner

    async def go_offline(self) -> None:
        """Its HTTP port closes (the node still beats): a node the others cannot reach."""
        await self.runner.cleanup()

    @property
    def name(self) -> str:
        return self.farm.config.node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def nodes(root: Path, database: str, names: tuple[str, ...], **config: Any) -> AsyncIterator[list[Node]]:
    """Start one node per name, each with one simulated printer ``<name>-p1``; ``config`` goes to every
    node's FarmConfig (``shared_uploads=...``)."""
    async with contextlib.AsyncExitStack() as stack:
        started: list[Node] = []
        for name in names:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            farm_config = FarmConfig(printers=(PrinterConfig(f"{name}-p1", "sim", profile="marlin2"),),
                                     node=name, node_url=url, database=database, node_timeout=5, **config)
            farm = await stack.enter_async_context(
                Farm.running(farm_config, root / name, sim=SimOptions(full_speed=True, time_scale=0.0)))
            runner = web.AppRunner(build_main_app(farm), access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)  # a second cleanup does nothing
            await web.TCPSite(runner, "127.0.0.1", port).start()
            key = started[0].key if started else await farm.auth.add_key("test-admin", Role.ADMIN)
            started.append(Node(farm, url, key, runner))
        for node in started:
            for entry in node.farm.printers.values():
                await until(lambda e=entry: e.printer.state is PrinterState.OPERATIONAL, 15, f"{entry.name} ready")
        yield started


async def until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``predicate`` (plain or async) until it returns something truthy; fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(every)
