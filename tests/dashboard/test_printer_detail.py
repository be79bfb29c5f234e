"""One printer's detail view in chromium: the terminal sends M105 and shows the reply, a jog
changes Z, presets are edited and applied, maintenance keeps the printer out of the queue, and
after the server restarts the page says it is reconnecting and then carries on by itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from farmctl.farm.config import PrinterConfig
from dashboard_harness import CHROMIUM, Served, logged_in_page, screenshot, serious_violations, serve, served_farm

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install chromium"),
]

PRINTERS = (PrinterConfig("mk3", "sim", profile="prusa-mk3"),
            PrinterConfig("spare", "sim", profile="marlin2"))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    # Moves and heating at four times their speed: homing and a heat-up take a second or two.
    async with served_farm(tmp_path_factory.mktemp("farm") / "data", PRINTERS, time_scale=0.25) as farm:
        yield farm


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def page(browser, served: Served):
    async with logged_in_page(browser, served, {"width": 1440, "height": 1000}, "/#/printer/mk3") as page:
        yield page


async def test_the_terminal_sends_m105_and_shows_the_reply(page, served: Served) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#printer-state")).to_have_text("Operational", timeout=10_000)
    await page.fill("#terminal-input", "M105")
    await page.press("#terminal-input", "Enter")
    lines = page.locator(".terminal-lines")
    await expect(lines).to_contain_text(re.compile(r"Send: N\d+ M105\*"), timeout=5_000)
    await expect(lines).to_contain_text(re.compile(r"Recv: ok T:\d"), timeout=5_000)
    await expect(page.locator("#terminal-input")).to_have_value("")
    # The same check as /api/printer/command: a line the firmware would mangle is refused, with why.
    await page.fill("#terminal-input", "G1 X" + "1" * 200)
    await page.press("#terminal-input", "Enter")
    await expect(page.locator(".toast.error")).to_contain_text("the firmware keeps", timeout=5_000)


async def test_a_jog_changes_z(page, served: Served) -> None:
    from playwright.async_api import expect

    await page.click("#home-all")
    await expect(page.locator(".detail .hint", has_text="Z ")).to_contain_text("Z 0.00 mm", timeout=10_000)
    await page.get_by_role("radio", name="10 mm").click()
    await page.get_by_role("button", name="Z +10 mm").click()
    await expect(page.locator(".detail .hint", has_text="Z ")).to_contain_text("Z 10.00 mm", timeout=5_000)
    assert served.farm.printers["mk3"].printer.current_z == 10.0
    await page.get_by_role("button", name="Z −10 mm").click()
    await expect(page.locator(".detail .hint", has_text="Z ")).to_contain_text("Z 0.00 mm", timeout=5_000)


async def test_a_preset_sets_the_targets_and_the_detail_view_is_accessible(page, served: Served) -> None:
    from playwright.async_api import expect

    await page.locator(".heaters").get_by_role("button", name="PETG").click()
    await expect(page.locator(".heaters .now-tool0")).to_contain_text("/ 240 °C", timeout=5_000)
    await expect(page.locator(".heaters .now-bed")).to_contain_text("/ 80 °C", timeout=5_000)
    # Heating up: the chart draws the rise (the picture in the README).
    await page.wait_for_function("parseFloat(document.querySelector('.heaters .now-tool0').textContent) >= 120",
                                 timeout=20_000)
    await page.fill("#terminal-input", "")  # the refused line the first test left there
    await page.locator("#terminal-input").blur()
    await screenshot(page, "printer-detail")
    assert await serious_violations(page) == []
    await page.locator(".heaters").get_by_role("button", name="Cool down").click()
    await expect(page.locator(".heaters .now-tool0")).not_to_contain_text("/", timeout=5_000)


async def test_maintenance_takes_the_printer_out_of_the_queue_across_a_restart(page, served: Served) -> None:
    from playwright.async_api import expect

    await page.fill("#maintenance-note", "nozzle swap")
    await page.get_by_role("button", name="Start maintenance").click()
    await expect(page.get_by_text("In maintenance: nozzle swap.")).to_be_visible()
    entry = served.farm.printers["mk3"]
    assert entry.maintenance == "nozzle swap"
    refused = await page.evaluate("""async () => (await fetch('/api/farm/printers/mk3/action', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-Api-Key': localStorage.getItem('farmctl.apikey')},
        body: JSON.stringify({action: 'manage'})})).status""")
    assert refused == 409 and not entry.driver.active
    async with served.farm.store.transaction(write=False) as tx:
        assert await tx.farm.maintenance_notes() == {"mk3": "nozzle swap"}
    await page.get_by_role("button", name="End maintenance").click()
    await expect(page.get_by_role("button", name="Start maintenance")).to_be_visible()
    assert entry.maintenance is None


async def test_the_page_reconnects_after_the_server_restarts(page, served: Served) -> None:
    from playwright.async_api import expect

    await page.goto(served.url + "/#/farm")
    spare = page.locator('.card[data-printer="spare"]')
    await expect(spare.locator(".state")).to_have_text("Operational", timeout=10_000)
    runner = served.runner
    await runner.cleanup()  # the server goes away; the printers and the farm stay up
    banner = page.locator("#connection")
    await expect(banner).to_contain_text(re.compile(r"Reconnecting( in \d+ s|…) \(the printers carry on"), timeout=10_000)
    await screenshot(page, "farm-reconnecting")
    async with serve(served.farm, served.port) as restarted:
        served.runner = restarted
        await expect(banner).to_be_hidden(timeout=15_000)
        # Live again: a change on the printer reaches the card without a reload.
        await served.farm.printers["spare"].driver.set_active(True)
        await expect(spare.locator(".queue-status")).to_contain_text("Idle", timeout=5_000)
