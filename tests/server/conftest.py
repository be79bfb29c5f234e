"""Fixtures: ``farmctl serve`` as a child process, and the same app in-process on an aiohttp test server.

The child process is what users run; the in-process farm is for tests that need to look inside a
simulated printer (``farm.printers[name].sim.executed``), which a child process keeps to itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from server_helpers import ServerProcess, farm_toml

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app
from farmctl.printer import PrinterState


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """One simulated printer ``p1``, full speed, with an admin key in ``server.keys["admin"]``."""
    proc = ServerProcess(tmp_path, farm_toml("p1"))
    try:
        proc.start()
        proc.add_key("admin")
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def farm2(tmp_path: Path) -> Iterator[ServerProcess]:
    """Two simulated printers ``p1`` and ``p2`` sharing the farm's queue, full speed."""
    proc = ServerProcess(tmp_path, farm_toml("p1", "p2"))
    try:
        proc.start()
        proc.add_key("admin")
        yield proc
    finally:
        proc.kill()


@dataclass
class InProcess:
    farm: Farm
    client: TestClient
    key: str
    uploads: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}


@contextlib.asynccontextmanager
async def in_process(data: Path, *names: str, time_scale: float = 0.0,
                     printers: tuple[PrinterConfig, ...] = ()) -> AsyncIterator[InProcess]:
    """The main app of a farm of simulated printers (full speed) on an aiohttp test server.

    ``time_scale`` > 0 lets the machine take time (heating, cooling, moves), scaled down. It is
    handed over once every printer is connected, as a person would find it, so no test races the
    handshake on a loaded machine."""
    config = FarmConfig(printers=printers or tuple(PrinterConfig(n, "sim", profile="marlin2") for n in names))
    async with Farm.running(config, data, sim=SimOptions(full_speed=True, time_scale=time_scale)) as farm:
        async with asyncio.timeout(30):
            while any(entry.printer.state != PrinterState.OPERATIONAL for entry in farm.printers.values()):
                await asyncio.sleep(0.02)
        key = await farm.auth.add_key("test", Role.ADMIN)
        async with TestClient(TestServer(build_main_app(farm), host="127.0.0.1")) as client:
            yield InProcess(farm, client, key, farm.uploads_dir)


@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[InProcess]:
    """One printer ``p1`` in-process."""
    async with in_process(tmp_path / "data", "p1") as farm:
        yield farm


@pytest.fixture
async def inproc_slow(tmp_path: Path) -> AsyncIterator[InProcess]:
    """One Marlin 2 printer ``p1`` in-process whose moves take (scaled) time, so a print's progress can be watched."""
    async with in_process(tmp_path / "data", "p1", time_scale=0.01) as farm:
        yield farm


@pytest.fixture
async def inproc2(tmp_path: Path) -> AsyncIterator[InProcess]:
    """Two printers ``p1`` and ``p2`` in-process, sharing the farm's queue."""
    async with in_process(tmp_path / "data", "p1", "p2") as farm:
        yield farm
