"""The dashboard's own endpoints without a browser: the page, the farm summary, uploads."""

from __future__ import annotations

import asyncio
import json
import posixpath
import re

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.printer import PrinterState
from farmctl.http.app import build_main_app
from farmctl.http.farm_api import STATIC_DIR

pytestmark = pytest.mark.timeout(30)

STATIC_IMPORT = re.compile(r'(?:^|[;\s])(?:import|export)\s*(?:[^"\';]*?\sfrom\s*)?["\']([^"\']+)["\']', re.M)


@pytest.fixture
async def farm_client(tmp_path: Path) -> AsyncIterator[tuple[Farm, TestClient, dict[str, str]]]:
    config = FarmConfig(printers=(PrinterConfig("p1", "sim", profile="marlin2"),
                                  PrinterConfig("p2", "sim", profile="marlin2")))
    async with Farm.running(config, tmp_path / "data", sim=SimOptions(full_speed=True, time_scale=0.0)) as farm:
        key = await farm.auth.add_key("dash", Role.OPERATOR)
        async with TestClient(TestServer(build_main_app(farm), host="127.0.0.1")) as client:
            yield farm, client, {"X-Api-Key": key}


async def test_page_and_static_files_load_without_a_key(farm_client) -> None:
    _, client, _ = farm_client
    page = await client.get("/")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    text = await page.text()
    assert "/static/js/app.js" in text and "http://" not in text and "https://" not in text  # no CDN
    for name in ("js/app.js", "css/app.css", "vendor/preact/preact.module.js", "vendor/uplot/uPlot.esm.js"):
        assert (await client.get(f"/static/{name}")).status == 200


async def test_summary_needs_a_key_and_lists_every_printer(farm_client) -> None:
    _, client, headers = farm_client
    refused = await client.get("/api/farm/summary")
    assert refused.status == 403 and "error" in await refused.json()
    response = await client.get("/api/farm/summary", headers=headers)
    assert response.status == 200
    summary = await response.json()
    assert summary["user"] == {"name": "dash", "role": "operator"}
    assert [p["name"] for p in summary["printers"]] == ["p1", "p2"]
    printer = summary["printers"][0]
    assert {"state", "profile", "firmware", "temperatures", "currentZ", "job", "progress", "queue"} <= printer.keys()
    assert set(printer["queue"]) == {"active", "status", "statusType"}
    assert printer["state"]["text"] in ("Connecting", "Operational")
    assert [q["name"] for q in summary["queues"]] == ["local", "LAN"]
    assert summary["history"] == []


async def test_upload_lists_the_file_and_tells_push_clients(farm_client) -> None:
    farm, client, headers = farm_client
    inbox = farm.subscribe()
    form = aiohttp.FormData()
    form.add_field("file", b"G28\nG1 X10\n", filename="part.gcode", content_type="application/octet-stream")
    response = await client.post("/api/farm/files", data=form, headers=headers)
    assert response.status == 201, await response.text()
    assert (await response.json())["path"] == "part.gcode"
    listed = await (await client.get("/api/farm/files", headers=headers)).json()
    assert [f["path"] for f in listed["entries"]] == ["part.gcode"]
    events = []
    while not inbox.empty():
        message = inbox.get_nowait()
        if message.get("type") == "event" and message["printer"] is None:
            events.append(message["event"])
    assert events == ["FileAdded", "UpdatedFiles"]

    bad = aiohttp.FormData()
    bad.add_field("file", b"x", filename="../escape.gcode")
    refused = await client.post("/api/farm/files", data=bad, headers=headers)
    assert refused.status >= 400 and "error" in await refused.json()
    assert not (farm.data_dir / "escape.gcode").exists()


async def test_terminal_shows_a_printers_new_lines_and_refuses_bad_values(farm_client) -> None:
    farm, client, headers = farm_client
    for name in ("p1", "p2"):  # the handshake (and the SD card's listing after it) is over
        for _ in range(200):
            if farm.printers[name].printer.state is PrinterState.OPERATIONAL:
                break
            await asyncio.sleep(0.05)
        assert farm.printers[name].printer.state is PrinterState.OPERATIONAL

    async def terminal(name: str, since: int | str = 0) -> dict:
        response = await client.get(f"/api/farm/printers/{name}/terminal", params={"since": since}, headers=headers)
        assert response.status == 200, await response.text()
        return await response.json()

    first = await terminal("p1")
    assert any(line.startswith("Send: N") and " M115*" in line for line in first["logs"])
    assert any(line.startswith("Recv: FIRMWARE_NAME:") for line in first["logs"])
    sent = await client.post("/printers/p1/api/printer/command", json={"command": "M117 hello"}, headers=headers)
    assert sent.status == 204, await sent.text()
    later = await terminal("p1", first["seq"])
    assert any(" M117 hello*" in line for line in later["logs"]) and "Recv: ok" in later["logs"]
    assert not any(" M115*" in line for line in later["logs"])  # only what came after the first look
    assert later["seq"] > first["seq"]
    assert not any("M117 hello" in line for line in (await terminal("p2"))["logs"])

    for since in ("-1", "abc", "1.5"):
        response = await client.get("/api/farm/printers/p1/terminal", params={"since": since}, headers=headers)
        assert response.status == 400 and "error" in await response.json(), since
    unknown = await client.get("/api/farm/printers/nope/terminal", headers=headers)
    assert unknown.status == 404 and "error" in await unknown.json()
    refused = await client.get("/api/farm/printers/p1/terminal")
    assert refused.status == 403


def _static_imports(start: str, import_map: dict[str, str]) -> set[str]:
    """Every module ``start`` (a /static/ URL) loads before it runs: its static imports, transitively."""
    seen, todo = set(), [start]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        source = (STATIC_DIR / url.removeprefix("/static/")).read_text()
        for spec in STATIC_IMPORT.findall(source):
            todo.append(import_map.get(spec) or posixpath.normpath(posixpath.join(posixpath.dirname(url), spec)))
    return seen


def test_the_page_preloads_every_module_the_farm_view_needs_and_no_other() -> None:
    """The browser fetches the farm view's modules in one go, not one import level at a time: a
    module added to (or dropped from) the farm view's imports must be in (or out of) the list."""
    page = (STATIC_DIR / "index.html").read_text()
    import_map = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))["imports"]
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', page))
    needed = _static_imports("/static/js/app.js", import_map) | _static_imports("/static/js/views/farm.js", import_map)
    assert preloaded == needed
