"""The farm view in Debian's chromium, driven by Playwright, against a farm served on 127.0.0.1.

One farm of four simulated printers (instant wire, real move times) and one browser for the
whole module; each test uses its own printers or leaves them as it found them. Screenshots go
to /tmp/farmctl-screenshots/ to look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from farmctl.auth import Role
from farmctl.farm.config import PrinterConfig
from dashboard_harness import (
    CHROMIUM, Served, log_in, logged_in_page, moves_file, screenshot, serious_violations, served_farm,
)

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install chromium"),
]

PRINTERS = (PrinterConfig("p1", "sim", profile="marlin2", tags=("left",)),
            PrinterConfig("p2", "sim", profile="prusa-mk3", tags=("left",)),
            PrinterConfig("p3", "sim", profile="marlin2", tags=("right",)),
            PrinterConfig("p4", "sim", profile="marlin2-advanced-ok", tags=("right",)))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    async with served_farm(tmp_path_factory.mktemp("farm") / "data", PRINTERS) as farm:
        yield farm


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser, served: Served):
    async with logged_in_page(browser, served, {"width": 1600, "height": 900}) as page:
        yield page


async def test_a_wrong_key_is_refused_and_the_right_one_opens_the_farm(browser, served: Served) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1600, "height": 900})
    page = await context.new_page()
    await page.goto(served.url + "/")
    await page.fill("#key-input", "not-a-key")
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("invalid API key")
    assert await serious_violations(page) == []
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#who-name")).to_have_text("browser (admin)")
    cards = page.locator(".card")
    await expect(cards).to_have_count(4)
    p2 = page.locator('.card[data-printer="p2"]')
    await expect(p2.locator(".state")).to_have_text("Operational", timeout=10_000)
    await expect(p2.locator(".tool")).to_contain_text("°C")
    await expect(p2.locator(".queue-status")).to_contain_text("Inactive")
    # Filter by group: the tags from farm.toml.
    await page.select_option("#filter-group", "right")
    await expect(cards).to_have_count(2)
    await page.select_option("#filter-group", "")
    await expect(cards).to_have_count(4)
    assert await serious_violations(page) == []
    await context.close()


async def test_password_login_and_logout(browser, served: Served) -> None:
    from playwright.async_api import expect

    await served.farm.auth.add_user("ann", "correct horse", Role.OPERATOR)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(served.url + "/")
    await page.fill("#user-input", "ann")
    await page.fill("#password-input", "wrong")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("wrong user name or password")
    await page.fill("#password-input", "correct horse")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#who-name")).to_have_text("ann (operator)")
    await expect(page.locator(".card")).to_have_count(4)
    assert any(c["name"] == "farmctl_session" and c["httpOnly"] for c in await context.cookies())
    await page.reload()  # the cookie keeps the session
    await expect(page.locator("#who-name")).to_have_text("ann (operator)")
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    await page.reload()
    await expect(page.locator("#login")).to_be_visible()
    await context.close()


async def test_a_printers_question_is_answered_from_the_attention_strip(page, served: Served) -> None:
    from playwright.async_api import expect

    p4 = page.locator('.card[data-printer="p4"]')
    await expect(p4.locator(".state")).to_have_text("Operational", timeout=10_000)
    strip = page.locator('#attention .attention-item[data-printer="p4"]')
    await expect(strip).to_have_count(0)
    sim = served.farm.printers["p4"].sim
    assert sim is not None
    sim.prompt("Filament changed. Purge more?", ("Purge more", "Continue"))
    await expect(strip).to_contain_text("Filament changed. Purge more?", timeout=5_000)
    await screenshot(page, "farm-prompt")
    await strip.get_by_role("button", name="Continue").click()
    await expect(strip).to_have_count(0)
    assert sim.wait_for(lambda s: s.prompt_responses == [1], timeout=5)


async def test_two_managed_printers_print_and_one_click_clears_the_plate_for_the_next_copy(
        page, served: Served, tmp_path: Path) -> None:
    from playwright.async_api import expect

    moves_file(served.farm.uploads_dir, "bracket.gcode")
    await served.farm.model.jobs.add_set({"path": "bracket.gcode", "count": 3}, job_name="brackets", job_draft=False)
    p1, p2 = page.locator('.card[data-printer="p1"]'), page.locator('.card[data-printer="p2"]')
    for card in (p1, p2):
        await expect(card.locator(".state")).to_have_text("Operational", timeout=10_000)
    # Idle while the queue has work: the strip says so and offers to start managing.
    strip = page.locator("#attention")
    await expect(strip.locator('[data-printer="p1"]')).to_contain_text("idle while its queue has work", timeout=15_000)
    await p1.locator(".manage").click()
    await strip.locator('[data-printer="p2"]').get_by_role("button", name="Start managing").click()
    for card in (p1, p2):
        await expect(card.locator(".manage")).to_have_text("Stop managing")
        await expect(card.locator(".file")).to_have_text("bracket.gcode", timeout=10_000)
    await screenshot(page, "farm-printing")
    for card in (p1, p2):
        await expect(card.locator(".progress-text")).to_contain_text("100 %", timeout=20_000)
    # The bed-clearing script holds each printer for a person; one click starts the last copy on p1.
    held = strip.locator('[data-printer="p1"]')
    await expect(held).to_contain_text("clear the plate", timeout=10_000)
    await expect(strip.locator('[data-printer="p2"]')).to_contain_text("clear the plate", timeout=10_000)
    await screenshot(page, "farm-attention")
    assert await serious_violations(page) == []
    await held.get_by_role("button", name="Plate cleared — start next").click()
    await expect(p1.locator(".state")).to_have_text("Printing", timeout=10_000)
    await expect(p1.locator(".file")).to_have_text("bracket.gcode")
    await expect(held).to_have_count(0)
    await expect(p1.locator(".progress-text")).to_contain_text("100 %", timeout=20_000)
    history = await served.farm.model.settings.get_history(10)
    assert sorted(run.printer for run in history) == ["p1", "p1", "p2"]
    for name in ("p1", "p2"):  # the queue is done: each plate cleared, then the finish script's hold
        item = strip.locator(f'[data-printer="{name}"]')
        await expect(item).to_contain_text("Print done: clear the plate", timeout=10_000)
        await item.get_by_role("button", name="Plate cleared — start next").click()
        await expect(item).to_contain_text("Queue finished", timeout=10_000)
        await item.get_by_role("button", name="Plate cleared").click()
        await expect(item).to_have_count(0, timeout=10_000)
        await served.farm.printers[name].driver.set_active(False)


async def test_pause_resume_and_cancel_with_confirmation(page, served: Served) -> None:
    from playwright.async_api import expect

    moves_file(served.farm.uploads_dir, "long.gcode", count=3000)
    served.farm.files_changed("FileAdded", "long.gcode")
    p3 = page.locator('.card[data-printer="p3"]')
    await expect(p3.locator(".state")).to_have_text("Operational", timeout=10_000)
    # "Print this file on the selected printers", with p3 alone selected.
    await p3.locator(".select").check()
    await page.select_option("#bulk-file", "long.gcode")
    await page.click("#bulk-print")
    await expect(p3.locator(".state")).to_have_text("Printing", timeout=10_000)
    await p3.locator(".pause").click()
    await expect(p3.locator(".state")).to_have_text("Paused", timeout=10_000)
    await expect(p3.locator(".pause")).to_have_text("Resume")
    await p3.locator(".pause").click()
    await expect(p3.locator(".state")).to_have_text("Printing", timeout=10_000)
    # Cancel asks first; "Keep going" leaves the print alone.
    await p3.locator(".cancel").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Cancel the print on p3?")
    await dialog.get_by_role("button", name="Keep going").click()
    await expect(dialog).to_be_hidden()
    assert served.farm.printers["p3"].printer.state.name == "PRINTING"
    await p3.locator(".cancel").click()
    await dialog.get_by_role("button", name="Cancel print").click()
    await expect(p3.locator(".state")).to_have_text("Operational", timeout=10_000)
    await p3.locator(".select").uncheck()


async def test_bulk_preheat_of_three_selected_printers_reaches_their_targets(page, served: Served) -> None:
    from playwright.async_api import expect

    for name in ("p2", "p3", "p4"):
        await page.locator(f'.card[data-printer="{name}"] .select').check()
    await expect(page.locator("#bulk .count")).to_have_text("3 selected")
    await page.select_option("#bulk-preset", "PLA")
    await page.click("#bulk-preheat")
    await expect(page.locator(".toast")).to_contain_text("Preheat PLA: done on 3 printers")
    headers = {"X-Api-Key": served.key}

    async def targets(http: aiohttp.ClientSession, name: str) -> tuple[float | None, float | None]:
        async with http.get(f"{served.url}/printers/{name}/api/printer", headers=headers) as response:
            temperature = (await response.json())["temperature"]
        return temperature["tool0"]["target"], temperature["bed"]["target"]

    async with aiohttp.ClientSession() as http:
        for name in ("p2", "p3", "p4"):  # the firmware's next temperature report shows the new targets
            for _ in range(50):
                if await targets(http, name) == (210, 60):
                    break
                await asyncio.sleep(0.1)
            assert await targets(http, name) == (210, 60), name
        assert (await targets(http, "p1"))[0] in (0, None)  # not selected, not heated
    for name in ("p2", "p3", "p4"):
        await expect(page.locator(f'.card[data-printer="{name}"] .tool')).to_contain_text("/ 210 °C", timeout=5_000)
    await page.get_by_role("button", name="Cool down").click()
    await expect(page.locator('.card[data-printer="p2"] .tool')).not_to_contain_text("/", timeout=5_000)


async def test_sixteen_printers_fit_a_desktop_screen_and_read_on_a_phone_and_in_the_dark(browser, tmp_path: Path) -> None:
    from playwright.async_api import expect

    printers = tuple(PrinterConfig(f"farm-{n:02d}", "sim", profile="marlin2", tags=("row-a" if n < 8 else "row-b",))
                     for n in range(1, 17))
    async with served_farm(tmp_path / "data", printers, time_scale=0.2) as big:
        moves_file(big.farm.uploads_dir, "part.gcode", count=4000)
        spools = ("PLA_black_#222222", "PETG_orange_#ff7f00", "PLA_white_#f4f4f4", "ASA_grey_#8a8a8a")
        for n, entry in enumerate(big.farm.printers.values()):
            await big.farm.set_materials(entry, [spools[n % len(spools)]])
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        page = await context.new_page()
        await log_in(page, big)
        await expect(page.locator(".card .state", has_text="Operational")).to_have_count(16, timeout=20_000)
        # Each card shows what is loaded, with the spool's colour.
        await expect(page.locator('.card[data-printer="farm-02"] .material')).to_have_text("PETG orange")
        assert await page.locator('.card[data-printer="farm-02"] .material .spool').evaluate(
            "el => getComputedStyle(el).backgroundColor") == "rgb(255, 127, 0)"
        await page.click("#select-all")
        await page.click("#bulk-preheat")  # PLA, the first preset
        await page.select_option("#bulk-file", "part.gcode")
        await page.click("#bulk-print")
        await expect(page.locator(".card .state", has_text="Printing")).to_have_count(16, timeout=15_000)
        # Every card shows its time left and the clock time it ends (after three seconds of printing).
        await expect(page.locator(".card .progress-text", has_text="left · ends")).to_have_count(16, timeout=15_000)
        await page.click("#select-all")
        # As an operator opening the page mid-print sees it: each card's snapshot brings its recent trend.
        await page.reload()
        await expect(page.locator(".card .spark")).to_have_count(16, timeout=10_000)
        await screenshot(page, "farm-16-printing")
        assert await page.evaluate("document.documentElement.scrollHeight") <= 1080  # no scrolling
        await page.click("#theme")  # auto -> light
        await page.click("#theme")  # light -> dark
        await screenshot(page, "farm-16-dark")
        assert await serious_violations(page) == []
        await page.set_viewport_size({"width": 390, "height": 844})
        await screenshot(page, "farm-phone")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        await context.close()
