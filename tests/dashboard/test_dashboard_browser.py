"""The dashboard in Debian's chromium, driven by Playwright, against a farm served on 127.0.0.1.

Two simulated printers with an instant wire and real move times, so a print of short moves takes
a few seconds and its progress shows. The test logs in as a person would, starts managing one
printer, uploads a file, queues it and watches it print to success, then leaves screenshots in
/tmp/dashboard.png (desktop) and /tmp/dashboard-phone.png (phone width) to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = Path("/tmp/dashboard.png")
PHONE_SCREENSHOT = Path("/tmp/dashboard-phone.png")
PRINTING_SCREENSHOT = Path("/tmp/dashboard-printing.png")
MISSING_SCREENSHOT = Path("/tmp/dashboard-missing-file.png")

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install chromium"),
]


@dataclass
class Served:
    farm: Farm
    url: str
    key: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served_farm(data: Path) -> AsyncIterator[Served]:
    config = FarmConfig(printers=(PrinterConfig("p1", "sim", profile="marlin2"),
                                  PrinterConfig("p2", "sim", profile="prusa-mk3")))
    async with Farm.running(config, data, sim=SimOptions(full_speed=True, time_scale=1.0)) as farm:
        key = await farm.auth.add_key("browser", Role.ADMIN)
        runner = web.AppRunner(build_main_app(farm), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield Served(farm, f"http://127.0.0.1:{port}", key)
        finally:
            await runner.cleanup()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with served_farm(tmp_path / "data") as farm:
        yield farm


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def moves_file(folder: Path, count: int = 150) -> Path:
    """Short moves at 50 mm/s, 0.3 mm above the bed: a few seconds of printing."""
    lines = ["G90", "G1 Z0.3 F600", "G1 F3000"] + [f"G1 X{10 + i % 2} Y{10 + i * 0.1:.1f}" for i in range(count)]
    path = folder / "bracket.gcode"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_log_in_manage_queue_and_print_to_success(served: Served, browser, tmp_path: Path) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    await page.goto(served.url + "/")

    # A wrong key is refused visibly; the right one opens the farm.
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#key-input", "not-a-key")
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("invalid API key")
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#farm")).to_be_visible()
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator("#who-name")).to_have_text("browser (admin)")

    cards = page.locator(".card")
    await expect(cards).to_have_count(2)
    p1, p2 = page.locator('[data-printer="p1"]'), page.locator('[data-printer="p2"]')
    await expect(p1.locator(".state")).to_have_text("Operational", timeout=10_000)
    await expect(p2.locator(".state")).to_have_text("Operational", timeout=10_000)
    await expect(p2.locator(".meta")).to_contain_text("prusa-mk3")
    await expect(p1.locator(".tool")).to_contain_text("°C", timeout=5_000)
    await expect(p1.locator(".z")).to_have_text("—")
    await expect(p1.locator(".queue-status")).to_contain_text("Inactive")

    # Start managing p1 only.
    await p1.locator(".manage").click()
    await expect(p1.locator(".manage")).to_have_text("Stop managing")
    await expect(p1.locator(".queue-status")).to_contain_text("Idle")
    await expect(p2.locator(".manage")).to_have_text("Start managing")

    # Upload a file and queue one copy of it.
    await page.set_input_files("#upload-input", str(moves_file(tmp_path)))
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("#add-file")).to_have_value("bracket.gcode")
    await page.click("#add-button")
    await expect(page.locator("#jobs tr")).to_have_count(1)
    await expect(page.locator("#jobs")).to_contain_text("bracket.gcode")

    # It prints on p1 with a moving progress bar, and ends in the history as a success.
    await expect(p1.locator(".state")).to_have_text("Printing", timeout=10_000)
    await expect(p1.locator(".file")).to_have_text("bracket.gcode")
    await expect(p1.locator(".progress-text")).to_contain_text("left", timeout=10_000)
    await expect(p1.locator(".z")).to_have_text("0.30 mm")
    # The card's terminal shows the wire while it is open: the file's lines going out, the oks coming back.
    terminal = p1.locator(".terminal .lines")
    await expect(terminal).to_be_hidden()
    await p1.locator(".terminal summary").click()
    await expect(terminal).to_contain_text("Recv: ok", timeout=5_000)
    await expect(terminal).to_contain_text(re.compile(r"Send: N\d+ G1 X1\d Y"), timeout=5_000)
    await page.screenshot(path=str(PRINTING_SCREENSHOT), full_page=True)
    await expect(page.locator("#history tr").first).to_contain_text("success", timeout=20_000)
    await expect(page.locator("#history tr").first).to_contain_text("p1")
    await expect(p2.locator(".state")).to_have_text("Operational")

    # The default event scripts hold the printer for a person (bed clearing, then finishing): resume.
    pause = p1.locator(".pause")
    for _ in range(40):
        if "Idle" in await p1.locator(".queue-status").inner_text():
            break
        if await pause.inner_text() == "Resume" and await pause.is_enabled():
            await pause.click()
        await page.wait_for_timeout(250)
    await expect(p1.locator(".queue-status")).to_contain_text("Idle", timeout=10_000)
    await expect(page.locator("#jobs")).to_contain_text("bracket.gcode — 0 / 1")
    await expect(p1.locator(".file")).to_have_text("Last: bracket.gcode")

    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(PHONE_SCREENSHOT), full_page=True)
    assert not script_errors, script_errors


async def test_admin_approves_an_app_key_request(served: Served, browser) -> None:
    from playwright.async_api import expect

    from farmctl.auth import AppKeyState

    auth = served.farm.auth
    token = await auth.request_app_key("OrcaSlicer")

    async def keep_polling() -> tuple[AppKeyState, str | None]:  # an app polls, or its request expires after 5 s
        while (answer := await auth.poll(token))[0] is AppKeyState.PENDING:
            await asyncio.sleep(0.5)
        return answer  # the one poll that hands the key out

    poller = asyncio.create_task(keep_polling())
    page = await browser.new_page()
    await page.goto(served.url + "/")
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    panel = page.locator("#appkeys")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("OrcaSlicer")
    await panel.get_by_role("button", name="Approve").click()
    state, key = await asyncio.wait_for(poller, 5)
    assert state is AppKeyState.GRANTED and key and await auth.check_key(key) is not None
    await expect(panel).to_be_hidden()


async def test_password_login_and_logout(served: Served, browser) -> None:
    from playwright.async_api import expect

    await served.farm.auth.add_user("ann", "correct horse", Role.OPERATOR)
    page = await browser.new_page()
    await page.goto(served.url + "/")
    await page.fill("#user-input", "ann")
    await page.fill("#password-input", "wrong")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#error")).to_contain_text("wrong user name or password")
    await page.fill("#password-input", "correct horse")
    await page.click("#password-form button[type=submit]")
    await expect(page.locator("#who-name")).to_have_text("ann (operator)")
    await expect(page.locator(".card")).to_have_count(2)
    cookies = await page.context.cookies()
    assert any(c["name"] == "farmctl_session" and c["httpOnly"] for c in cookies)
    # A reload keeps the session (the cookie), a logout ends it.
    await page.reload()
    await expect(page.locator("#who-name")).to_have_text("ann (operator)")
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    await page.reload()
    await expect(page.locator("#login")).to_be_visible()


PROMPT_SCREENSHOT = Path("/tmp/dashboard-prompt.png")


async def test_a_printers_question_is_answered_from_its_card(served: Served, browser) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(served.url + "/")
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    p1 = page.locator('[data-printer="p1"]')
    await expect(p1.locator(".state")).to_have_text("Operational", timeout=10_000)
    prompt = p1.locator(".prompt")
    await expect(prompt).to_be_hidden()
    sim = served.farm.printers["p1"].sim
    assert sim is not None
    sim.prompt("Filament changed. Purge more?", ("Purge more", "Continue"))
    await expect(prompt).to_be_visible(timeout=5_000)
    await expect(prompt).to_contain_text("Filament changed. Purge more?")
    await expect(page.locator('[data-printer="p2"] .prompt')).to_be_hidden()
    await page.screenshot(path=str(PROMPT_SCREENSHOT), full_page=True)
    await prompt.get_by_role("button", name="Continue").click()
    await expect(prompt).to_be_hidden()
    assert sim.wait_for(lambda s: s.prompt_responses == [1], timeout=5)


async def test_a_queued_file_that_is_gone_is_marked_on_its_job(served: Served, browser) -> None:
    from playwright.async_api import expect

    await served.farm.model.jobs.add_set({"path": "gone.gcode", "count": 1}, job_name="spares", job_draft=True)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(served.url + "/")
    await page.fill("#key-input", served.key)
    await page.click("#key-form button[type=submit]")
    line = page.locator("#jobs .set", has_text="gone.gcode")
    await expect(line.locator(".badge")).to_have_text("file missing", timeout=10_000)
    await page.screenshot(path=str(MISSING_SCREENSHOT), full_page=True)
    moves_file(served.farm.uploads_dir).rename(served.farm.uploads_dir / "gone.gcode")  # put back by hand
    await expect(line.locator(".badge")).to_have_count(0, timeout=10_000)
