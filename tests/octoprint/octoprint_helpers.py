"""A farm of simulated printers served over real HTTP on 127.0.0.1 from a background thread, so
synchronous clients (octorest, requests) talk to it exactly as they talk to an OctoPrint.

Each printer gets its own port (what OctoFarm and octorest need: they drop path prefixes); the
main port serves the farm and ``/printers/<name>/...``. Tests read the simulators directly
(``server.sim("p1").executed``) to see what reached the firmware.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from farmctl.auth import Role
from farmctl.farm.config import BedConfig, FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, FarmPrinter, SimOptions
from farmctl.http.app import build_main_app, build_printer_app
from farmctl.printer import PrinterState
from farmctl.sim import SimulatedPrinter

T = TypeVar("T")
START_TIMEOUT = 20.0

SMALL_GCODE = b"""; a small print
G28
G90
M83
G1 Z0.2 F600
G1 X10 Y10 F3000
G1 X40 Y10 E1.5 F1200
G1 X40 Y40 E1.5
G1 X10 Y40 E1.5
G1 X10 Y10 E1.5
M104 S0
"""


def long_gcode(lines: int = 20000) -> bytes:
    """Enough moves that a full-speed simulator is still printing when the test pauses it."""
    body = "".join(f"G1 X{10 + i % 100} Y{10 + (i // 100) % 100} E0.01 F6000\n" for i in range(lines))
    return ("G28\nG90\nM83\n" + body + "M104 S0\n").encode()


class FarmServer:
    def __init__(self, data: Path, printers: tuple[PrinterConfig, ...]) -> None:
        self.config = FarmConfig(printers=printers)
        self.data = data
        self.farm: Farm
        self.keys: dict[str, str] = {}
        self.main_url = ""
        self.urls: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="octoprint test farm", daemon=True)

    def start(self) -> FarmServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._error is not None:
            raise RuntimeError(f"farm did not start: {self._error!r}")
        for name in self.farm.printers:
            self.wait_state(name, PrinterState.OPERATIONAL)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sim = SimOptions(full_speed=True, time_scale=0.0)
        async with Farm.running(self.config, self.data, sim=sim) as farm:
            self.farm = farm
            for role in Role:
                self.keys[role.value] = await farm.auth.add_key(f"test-{role.value}", role)
            runners = []
            try:
                apps = [("", build_main_app(farm))] + [(n, build_printer_app(farm, n)) for n in farm.printers]
                for name, app in apps:
                    runner = web.AppRunner(app, access_log=None)
                    await runner.setup()
                    runners.append(runner)
                    site = web.TCPSite(runner, "127.0.0.1", 0)
                    await site.start()
                    port = runner.addresses[0][1]
                    if name:
                        self.urls[name] = f"http://127.0.0.1:{port}"
                    else:
                        self.main_url = f"http://127.0.0.1:{port}"
                self._ready.set()
                await self._stop.wait()
            finally:
                for runner in runners:
                    await runner.cleanup()

    # -- from the test thread --------------------------------------------------------------

    def call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 10.0) -> T:
        """Run a coroutine on the farm's loop and wait for its result."""
        assert self._loop is not None
        async def run() -> T:
            return await make()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def entry(self, name: str) -> FarmPrinter:
        return self.farm.printers[name]

    def sim(self, name: str) -> SimulatedPrinter:
        sim = self.farm.printers[name].sim
        assert sim is not None
        return sim

    def state(self, name: str) -> PrinterState:
        return self.farm.printers[name].printer.state

    def wait_state(self, name: str, *states: PrinterState, timeout: float = 15.0) -> PrinterState:
        deadline = time.monotonic() + timeout
        while self.state(name) not in states:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} is {self.state(name)}, not {states} after {timeout} s")
            time.sleep(0.02)
        return self.state(name)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"X-Api-Key": self.keys[role]}


def printers(*names: str, **options: Any) -> tuple[PrinterConfig, ...]:
    return tuple(PrinterConfig(n, "sim", profile="marlin2", **options) for n in names)


__all__ = ["BedConfig", "FarmServer", "SMALL_GCODE", "long_gcode", "printers"]
