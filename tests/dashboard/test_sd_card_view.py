"""The farm view when a queued copy prints from a printer's SD card and the card is not there: the
"needs attention" strip says so, and its button mounts the card once it is back. Debian's chromium,
driven by Playwright, against one simulated printer served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from dashboard_harness import CHROMIUM, Served, chromium, log_in, screenshot, served_farm
from farmctl.farm.config import PrinterConfig

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install chromium"),
]

NO_HOOKS = {"scripts": {}, "preprocessors": {}, "events": {}}


async def test_a_missing_card_shows_in_the_attention_strip_and_its_button_lets_the_copy_print(tmp_path) -> None:
    from playwright.async_api import expect

    async with served_farm(tmp_path / "data", (PrinterConfig("p1", "sim", profile="marlin2"),)) as served, \
            chromium() as browser:
        await ready(served)
        entry = served.farm.printers["p1"]
        assert entry.sim is not None
        entry.sim.inspect(lambda fw: fw.sd.add("part.gcode", b"G28\nM117 FROM-CARD\nG1 X10 Y10 F6000\n"))
        await entry.printer.sd_refresh()
        entry.sim.sd_take_out()
        await served.farm.model.settings.edit_automation(NO_HOOKS)
        await served.farm.model.jobs.add_set({"path": "part.gcode", "sd": True, "count": 1}, job_name="part",
                                             job_draft=False)
        await entry.driver.set_active(True)

        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await log_in(page, served)
        item = page.locator('#attention .attention-item[data-printer="p1"]')
        await expect(item).to_contain_text("part.gcode waits for an SD card: insert it", timeout=10_000)
        await expect(page.locator('.card[data-printer="p1"]')).to_contain_text("Awaiting SD card")
        await screenshot(page, "farm-sd-card-missing")

        await item.get_by_role("button", name="Card inserted").click()  # still out: the farm says so
        await expect(page.get_by_text("the printer found no SD card to mount")).to_be_visible(timeout=5_000)
        assert entry.sim.executed and not [e for e in entry.sim.executed if e.command.startswith("M117 ")]

        entry.sim.sd_put_back()
        await item.get_by_role("button", name="Card inserted").click()
        await expect(item).to_have_count(0, timeout=10_000)
        await until(lambda: any(e.command == "M117 FROM-CARD" for e in entry.sim.executed), "the copy to print")
        assert errors == []


async def ready(served: Served) -> None:
    entry = served.farm.printers["p1"]
    await until(lambda: entry.printer.sd.state.name != "UNKNOWN", "the printer to connect and look at its card")


async def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
