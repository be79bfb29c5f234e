"""The files, queue, history and settings views in Debian's chromium, driven by Playwright, against
a farm served on 127.0.0.1 (two simulated printers, instant wire, moves at ten times their speed).

One farm and one browser for the module; the tests run in order (files, settings, queue and
history) and each leaves what the next one needs. Screenshots go to /tmp/farmctl-screenshots/.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from farmctl.auth import Role
from farmctl.farm.config import PrinterConfig
from dashboard_harness import CHROMIUM, Served, logged_in_page, screenshot, serious_violations, served_farm

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install chromium"),
]

FIXTURE = Path(__file__).parent.parent / "fixtures" / "bracket_prusaslicer.gcode"
PRINTERS = (PrinterConfig("p1", "sim", profile="marlin2"), PrinterConfig("p2", "sim", profile="marlin2"))
LARGE_MB = 150
PHONE = {"width": 390, "height": 844}

DROP = """async ([name, base64, megabytes]) => {
    // A real File in a real DataTransfer, dropped on the drop zone as a person's drag would.
    let file;
    if (megabytes) {
        const line = "; " + "x".repeat(32 * 1024 - 3) + "\\n";   // long comment lines: cheap to analyse
        const block = new TextEncoder().encode(line.repeat(32));
        const parts = [];
        for (let sent = 0; sent < megabytes * 1024 * 1024; sent += block.length) parts.push(block);
        file = new File(parts, name, { type: "application/octet-stream" });
    } else {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        file = new File([bytes], name, { type: "application/octet-stream" });
    }
    const zone = document.getElementById("drop-zone");
    const transfer = new DataTransfer();
    transfer.items.add(file);
    for (const type of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
    return file.size;
}"""

WATCH_PROGRESS = """(name) => {
    // Every value the upload's progress bar shows, as the page changes it.
    window.seenProgress = [];
    const record = () => {
        const bar = document.querySelector(`[data-upload="${name}"] progress`);
        if (bar) window.seenProgress.push(Number(bar.value));
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true });
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    async with served_farm(tmp_path_factory.mktemp("farm") / "data", PRINTERS, time_scale=0.1) as farm:
        yield farm


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser, served: Served):
    async with logged_in_page(browser, served, {"width": 1440, "height": 900}) as page:
        yield page


async def api(served: Served, method: str, path: str, body: object = None, key: str | None = None) -> object:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, served.url + path, json=body,
                                   headers={"X-Api-Key": key or served.key}) as response:
            assert response.status < 300, await response.text()
            return await response.json() if response.content_type == "application/json" else None


async def eventually(read, expected: object, seconds: float = 10.0) -> None:
    """Wait until ``await read()`` gives ``expected``."""
    value = None
    for _ in range(int(seconds / 0.1)):
        value = await read()
        if value == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still {value!r}, not {expected!r}")


async def accessible_and_pictured(page, name: str) -> None:
    """No serious or critical axe-core violation; screenshots at desktop width, phone width and dark."""
    assert await serious_violations(page) == []
    await screenshot(page, f"{name}-desktop", full_page=True)
    desktop = page.viewport_size
    await page.set_viewport_size(PHONE)
    assert await page.locator(".toast").count() <= 3  # the newest few, not a column over the view
    await screenshot(page, f"{name}-phone", full_page=True)
    # Nothing wider than the phone: a wide table scrolls inside its panel, the page does not.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{name} is wider than a phone"
    await page.set_viewport_size(desktop)
    await page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert await serious_violations(page) == []  # contrast in the dark theme too
    await screenshot(page, f"{name}-dark", full_page=True)
    await page.evaluate("document.documentElement.dataset.theme = 'light'")


async def test_files_drag_and_drop_with_progress_thumbnail_and_actions(page, served: Served) -> None:
    from playwright.async_api import expect

    await page.goto(served.url + "/#/files")
    await expect(page.locator("#drop-zone")).to_be_visible()
    encoded = base64.b64encode(FIXTURE.read_bytes()).decode()
    for name in ("a.gcode", "b.gcode"):
        await page.evaluate(DROP, [name, encoded, 0])
        await expect(page.locator(f'[data-upload="{name}"] .upload-state')).to_contain_text("done")
    entry = page.locator('.entry[data-path="a.gcode"]')
    await expect(entry.locator(".facts")).to_contain_text("12 s")
    await expect(entry.locator(".facts")).to_contain_text("3 layers")
    thumbnail = entry.locator("img.thumb")
    await expect(thumbnail).to_have_attribute("alt", "Preview of a.gcode")
    await eventually(lambda: thumbnail.evaluate("img => img.complete && img.naturalWidth"), 220)

    # A large file: the bar is seen part-way, and the file arrives whole.
    await page.evaluate(WATCH_PROGRESS, "large.gcode")
    size = await page.evaluate(DROP, ["large.gcode", "", LARGE_MB])
    await expect(page.locator('[data-upload="large.gcode"] .upload-state')).to_contain_text("done", timeout=60_000)
    seen = await page.evaluate("window.seenProgress")
    assert any(0 < value < 100 for value in seen), seen
    assert (served.farm.uploads_dir / "large.gcode").stat().st_size == size

    # Folder, move into it, rename, delete (confirmed), all from the page.
    await page.fill("#new-folder", "brackets")
    await page.click(".new-folder button[type=submit]")
    await expect(page.locator('.entry[data-path="brackets"]')).to_be_visible()
    large = page.locator('.entry[data-path="large.gcode"]')
    await large.get_by_role("button", name="Delete").click()
    await page.locator("dialog.confirm button[type=submit]").click()
    await expect(large).to_have_count(0)
    assert not (served.farm.uploads_dir / "large.gcode").exists()
    b = page.locator('.entry[data-path="b.gcode"]')
    await b.get_by_role("button", name="Move").click()
    await b.locator(".action-form input").fill("brackets")
    await b.locator(".action-form button[type=submit]").click()
    await expect(b).to_have_count(0)
    await page.click('.entry[data-path="brackets"] a')
    moved = page.locator('.entry[data-path="brackets/b.gcode"]')
    await expect(moved.locator("img.thumb")).to_be_visible()  # the thumbnail went along
    await moved.get_by_role("button", name="Move").click()
    await moved.locator(".action-form input").fill("")
    await moved.locator(".action-form button[type=submit]").click()
    await expect(moved).to_have_count(0)
    await page.click('.crumbs a[href="#/files"]')
    await expect(page.locator('.entry[data-path="b.gcode"]')).to_be_visible()
    await accessible_and_pictured(page, "files")


async def test_settings_approve_an_app_key_with_a_chosen_role_and_simulate(page, served: Served) -> None:
    from playwright.async_api import expect

    async with aiohttp.ClientSession() as session:
        async with session.post(served.url + "/plugin/appkeys/request", json={"app": "Slicer"}) as response:
            token = (await response.json())["app_token"]

        async def poll_until_granted() -> str:
            while True:  # an app polls about once a second; unpolled requests expire
                async with session.get(served.url + f"/plugin/appkeys/request/{token}") as answer:
                    if answer.status == 200:
                        return (await answer.json())["api_key"]
                    assert answer.status == 202, await answer.text()
                await asyncio.sleep(0.5)

        polling = asyncio.create_task(poll_until_granted())
        try:
            await page.goto(served.url + "/#/settings")
            request = page.locator('.requests li[data-app="Slicer"]')
            await expect(request).to_be_visible()
            await request.get_by_label("Role for Slicer").select_option("viewer")
            await screenshot(page, "settings-app-request")
            await request.get_by_role("button", name="Allow").click()
            key = await asyncio.wait_for(polling, 10)
        finally:
            polling.cancel()
    principal = await served.farm.auth.check_key(key)
    assert principal is not None and principal.role is Role.VIEWER
    await expect(page.locator('#keys tr[data-key="Slicer"]')).to_contain_text("viewer", timeout=10_000)

    await page.fill("#key-name", "wall display")
    await page.select_option("#key-role", "viewer")
    await page.click("#keys form button[type=submit]")
    made = (await page.locator("#made-key").text_content() or "").strip()
    shown = await served.farm.auth.check_key(made)
    assert shown is not None and shown.role is Role.VIEWER

    await page.select_option("#simulate-script", "Bed Clearing")
    await page.click("#simulate-run")
    await expect(page.locator("#simulate-gcode")).to_have_text("@pause")
    await accessible_and_pictured(page, "settings")


async def test_queue_two_sets_count_two_on_two_printers_reorder_forecast_then_history(page, served: Served) -> None:
    from playwright.async_api import expect

    await api(served, "POST", "/api/farm/automation", {"scripts": {}, "preprocessors": {}, "events": {}})
    await page.goto(served.url + "/#/queue")
    form = page.locator("form.new-job")
    await form.locator("#new-job-name").fill("pair")
    await form.get_by_label("Count", exact=True).fill("2")
    for path in ("a.gcode", "b.gcode"):
        await form.get_by_label("File of the new set").select_option(path)
        await form.get_by_role("button", name="Add set").click()
    await form.get_by_role("button", name="Add job").click()
    pair = page.locator('.job[data-name="pair"]')
    await expect(pair.locator(".sets tbody tr")).to_have_count(2)
    await api(served, "POST", "/api/farm/queue/jobs", {"name": "later", "draft": True, "sets": [{"path": "b.gcode"}]})
    later = page.locator('.job[data-name="later"]')
    await expect(later).to_be_visible()

    # Drag "later" above "pair", and the queue's order follows.
    await later.locator(".grip").drag_to(pair)
    await expect(page.locator(".job").first).to_have_attribute("data-name", "later")
    order = await api(served, "GET", "/api/farm/queue")
    assert [job["name"] for job in order["jobs"]] == ["later", "pair"]

    # Edited in place: the draft's count, then it goes back to being a draft nobody prints.
    await later.get_by_label("Count of later").fill("3")
    await later.get_by_label("Count of later").press("Enter")
    await eventually(lambda: _count_of(served, "later"), 3)

    forecast = page.locator(".forecast")
    await expect(forecast.locator(".lane")).to_have_count(2)
    await expect(forecast.locator(".lane .copy")).to_have_count(4)  # two passes of two sets; the draft is not printed
    await accessible_and_pictured(page, "queue")

    # Both printers manage the queue; each set's copies print, two passes.
    for name in ("p1", "p2"):
        await served.farm.printers[name].driver.set_active(True)
    await page.goto(served.url + "/#/history")
    await expect(page.locator("#stat-prints .figure-value")).to_have_text("4 of 4", timeout=40_000)
    await expect(page.locator("#stat-success-rate .figure-value")).to_have_text("100 %")
    await expect(page.locator(".runs-table tbody tr")).to_have_count(4)
    printers = {await row.get_attribute("data-printer") for row in await page.locator(".per-printer tbody tr").all()}
    assert printers == {"p1", "p2"}
    await page.select_option("#filter-result", "failure")
    await expect(page.locator(".runs-table tbody tr")).to_have_count(0)
    await expect(page.locator(".reasons")).to_contain_text("No failures")
    await page.select_option("#filter-result", "")
    csv = await page.evaluate("async () => (await fetch(document.getElementById('csv-export').href)).text()")
    assert len(csv.strip().splitlines()) == 5 and csv.startswith("run,printer,")
    await accessible_and_pictured(page, "history")


async def _count_of(served: Served, name: str) -> int:
    page = await api(served, "GET", "/api/farm/queue")
    return next(job["count"] for job in page["jobs"] if job["name"] == name)
