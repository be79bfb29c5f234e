"""What the dashboard's browser tests share: a farm of simulated printers served on 127.0.0.1,
Debian's chromium driven by Playwright, logging in, and the axe-core accessibility check."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("FARMCTL_SCREENSHOTS", "/tmp/farmctl-screenshots"))
"""Where the tests' screenshots go (to look at; the README's are copied from here)."""
SERIOUS = ("serious", "critical")


@dataclass
class Served:
    farm: Farm
    url: str
    key: str
    port: int
    runner: web.AppRunner | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(farm: Farm, port: int) -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(build_main_app(farm), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield runner
    finally:
        if runner.server is not None:  # a test may have stopped it already (a server restart)
            await runner.cleanup()


@contextlib.asynccontextmanager
async def served_farm(data: Path, printers: tuple[PrinterConfig, ...], time_scale: float = 1.0) -> AsyncIterator[Served]:
    """Simulated printers with an instant wire and real (or scaled) move times."""
    config = FarmConfig(printers=printers)
    async with Farm.running(config, data, sim=SimOptions(full_speed=True, time_scale=time_scale)) as farm:
        key = await farm.auth.add_key("browser", Role.ADMIN)
        port = free_port()
        served = Served(farm, f"http://127.0.0.1:{port}", key, port)
        async with serve(farm, port) as runner:
            served.runner = runner
            yield served


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def logged_in_page(browser, served: Served, viewport: dict[str, int], path: str = "/") -> AsyncIterator[object]:
    """A page of its own browser context, logged in with the farm's key; no page error may happen
    while the caller uses it."""
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await log_in(page, served, path)
    yield page
    await context.close()
    assert not errors, errors


async def log_in(page, served: Served, path: str = "/") -> None:
    from playwright.async_api import expect

    await page.goto(served.url + path)
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#who-name")).to_contain_text("browser")


def moves_file(folder: Path, name: str = "bracket.gcode", count: int = 150) -> Path:
    """Short moves at 50 mm/s, 0.3 mm above the bed: a few seconds of printing."""
    lines = ["G90", "G1 Z0.3 F600", "G1 F3000"] + [f"G1 X{10 + i % 2} Y{10 + i * 0.1:.1f}" for i in range(count)]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


async def screenshot(page, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]
