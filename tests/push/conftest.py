"""An in-process farm of simulated printers with the main app on 127.0.0.1, and a passive-login session.

The wire is instant but moves take their real time (``time_scale=1``), so a file of short moves
prints in a few seconds and progress can be watched rising.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app
from farmctl.printer import PrinterState


@dataclass
class PushFarm:
    farm: Farm
    client: TestClient
    user: str
    session: str
    key: str

    @property
    def auth(self) -> str:
        return f"{self.user}:{self.session}"

    async def ready(self, *names: str) -> None:
        """Wait until the printers have finished their handshake."""
        async with asyncio.timeout(10):
            while any(self.farm.printers[n].printer.state != PrinterState.OPERATIONAL for n in names):
                await asyncio.sleep(0.02)

    def moves(self, name: str = "moves.gcode", count: int = 120) -> Path:
        """Short moves at 50 mm/s: about 0.02 s each, so ``count`` of them print in a few seconds."""
        lines = ["G90", "G1 F3000"] + [f"G1 X{10 + i % 2} Y{10 + i * 0.1:.1f}" for i in range(count)]
        path = self.farm.uploads_dir / name
        path.write_text("\n".join(lines) + "\n")
        return path


@contextlib.asynccontextmanager
async def push_farm(data: Path, *names: str) -> AsyncIterator[PushFarm]:
    config = FarmConfig(printers=tuple(PrinterConfig(n, "sim", profile="marlin2") for n in names))
    async with Farm.running(config, data, sim=SimOptions(full_speed=True, time_scale=1.0)) as farm:
        key = await farm.auth.add_key("alice", Role.OPERATOR)
        async with TestClient(TestServer(build_main_app(farm), host="127.0.0.1")) as client:
            # what OctoFarm and FDM Monster do: a passive login with the key gives the socket's session
            response = await client.post("/api/login", json={"passive": True}, headers={"X-Api-Key": key})
            assert response.status == 200, await response.text()
            user = await response.json()
            assert user["name"] != "_api" and user["session"]
            yield PushFarm(farm, client, user["name"], user["session"], key)


@pytest.fixture
async def one(tmp_path: Path) -> AsyncIterator[PushFarm]:
    """One printer ``p1``: the main port's plain paths address it."""
    async with push_farm(tmp_path / "data", "p1") as farm:
        yield farm


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[PushFarm]:
    """Printers ``p1`` and ``p2``: each has its socket under ``/printers/<name>/``."""
    async with push_farm(tmp_path / "data", "p1", "p2") as farm:
        yield farm
