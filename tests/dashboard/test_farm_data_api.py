"""The dashboard's files, queue, history and access API against a real farm (simulated printers at
full wire speed, a real SQLite file, a real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from farmctl.auth import Role
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm.farm import Farm, SimOptions
from farmctl.http.app import build_main_app

pytestmark = pytest.mark.timeout(60)
FIXTURE = Path(__file__).parent.parent / "fixtures" / "bracket_prusaslicer.gcode"
NO_AUTOMATION = {"scripts": {}, "preprocessors": {}, "events": {}}


@pytest.fixture
async def farm_client(tmp_path: Path) -> AsyncIterator[tuple[Farm, TestClient, dict[str, str]]]:
    config = FarmConfig(printers=(PrinterConfig("p1", "sim", profile="marlin2", printer_profile="Ender 3"),
                                  PrinterConfig("p2", "sim", profile="marlin2", printer_profile="Ender 3")))
    async with Farm.running(config, tmp_path / "data", sim=SimOptions(full_speed=True, time_scale=0.0)) as farm:
        key = await farm.auth.add_key("admin", Role.ADMIN)
        async with TestClient(TestServer(build_main_app(farm), host="127.0.0.1")) as client:
            yield farm, client, {"X-Api-Key": key}


async def ok(response: aiohttp.ClientResponse, status: int = 200) -> dict:
    assert response.status == status, await response.text()
    return await response.json()


async def upload(client: TestClient, headers: dict[str, str], name: str, data: bytes, folder: str = "") -> dict:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await ok(await client.post(f"/api/farm/files?folder={folder}", data=form, headers=headers), 201)


async def until(check, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def operational(farm: Farm) -> None:
    async def ready() -> bool:
        return all(entry.printer.state.name == "OPERATIONAL" for entry in farm.printers.values())
    await until(ready)


async def test_files_folders_thumbnails_queue_and_print_now(farm_client) -> None:
    farm, client, headers = farm_client
    await ok(await client.post("/api/farm/files/folder", json={"path": "brackets"}, headers=headers), 201)
    saved = await upload(client, headers, "bracket.gcode", FIXTURE.read_bytes(), folder="brackets")
    assert saved["path"] == "brackets/bracket.gcode"
    assert saved["analysis"]["estimatedPrintTime"] == 12.0 and saved["analysis"]["layers"] == 3
    assert [(t["width"], t["height"], t["format"]) for t in saved["thumbnails"]] == [(16, 16, "png"), (220, 124, "png")]

    top = await ok(await client.get("/api/farm/files", headers=headers))
    assert [(e["name"], e["type"]) for e in top["entries"]] == [("brackets", "folder")]
    assert top["free"] > 0 and top["total"] >= top["free"]
    inside = await ok(await client.get("/api/farm/files?folder=brackets", headers=headers))
    (entry,) = inside["entries"]
    image = await client.get(entry["thumbnails"][1]["url"], headers=headers)
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(await image.read())).size == (220, 124)
    refused = await client.get(entry["thumbnails"][1]["url"])
    assert refused.status == 403  # thumbnails need a key like everything else

    downloaded = await client.get("/api/farm/files/download?path=brackets/bracket.gcode", headers=headers)
    assert downloaded.status == 200 and await downloaded.read() == FIXTURE.read_bytes()
    moved = await ok(await client.post("/api/farm/files/move", json={"path": "brackets/bracket.gcode",
                                                                     "to": "bracket-v2.gcode"}, headers=headers))
    assert moved["path"] == "bracket-v2.gcode" and len(moved["thumbnails"]) == 2
    await upload(client, headers, "other.gcode", b"G28\n")
    clash = await client.post("/api/farm/files/move", json={"path": "other.gcode", "to": "bracket-v2.gcode"},
                              headers=headers)
    assert clash.status == 409 and "already exists" in (await clash.json())["error"]
    into = await ok(await client.post("/api/farm/files/move", json={"path": "other.gcode", "folder": "brackets"},
                                      headers=headers))
    assert into["path"] == "brackets/other.gcode"
    escape = await client.post("/api/farm/files/folder", json={"path": "../out"}, headers=headers)
    assert escape.status == 400 and not (farm.data_dir / "out").exists()

    queued = await ok(await client.post("/api/farm/files/queue", json={"path": "bracket-v2.gcode", "count": 3},
                                        headers=headers), 201)
    assert queued["set_"]["count"] == 3
    page = await ok(await client.get("/api/farm/queue", headers=headers))
    assert page["total"] == 1 and page["jobs"][0]["draft"] is False and page["jobs"][0]["name"] == "bracket-v2"

    await operational(farm)
    started = await ok(await client.post("/api/farm/files/print", json={"path": "bracket-v2.gcode",
                                                                       "printers": ["p1", "p2"]}, headers=headers))
    assert sorted(started["started"]) == ["p1", "p2"]
    busy = await client.post("/api/farm/files/delete", json={"path": "bracket-v2.gcode"}, headers=headers)
    again = await ok(await client.post("/api/farm/files/print", json={"path": "bracket-v2.gcode",
                                                                     "printers": ["p1"]}, headers=headers))
    if busy.status == 409:  # still printing (the usual case): the file stays, a second start is refused
        assert "being printed" in (await busy.json())["error"]
        assert again["started"] == [] and again["refused"][0]["printer"] == "p1"
    await operational(farm)
    await ok(await client.post("/api/farm/files/delete", json={"path": "brackets"}, headers=headers))
    assert (await ok(await client.get("/api/farm/files", headers=headers)))["entries"][0]["name"] == "bracket-v2.gcode"


async def test_queue_two_sets_count_two_forecast_print_history_statistics_and_csv(farm_client) -> None:
    farm, client, headers = farm_client
    await ok(await client.post("/api/farm/automation", json=NO_AUTOMATION, headers=headers))  # no bed-clearing pause
    for name in ("a.gcode", "b.gcode"):
        await upload(client, headers, name, FIXTURE.read_bytes())
    bad = await client.post("/api/farm/queue/jobs", json={"name": "x", "sets": [{"path": "a.gcode", "count": 0}]},
                            headers=headers)
    assert bad.status == 400 and (await ok(await client.get("/api/farm/queue", headers=headers)))["total"] == 0
    job = await ok(await client.post("/api/farm/queue/jobs", json={
        "name": "pair", "count": 2, "draft": True,
        "sets": [{"path": "a.gcode", "count": 1, "profiles": ["Ender 3"]}, {"path": "b.gcode", "count": 1}]},
        headers=headers), 201)
    other = await ok(await client.post("/api/farm/queue/jobs", json={"name": "later", "sets": [{"path": "a.gcode"}]},
                                       headers=headers), 201)
    await ok(await client.post(f"/api/farm/queue/jobs/{other['id']}/move", json={"after_id": None}, headers=headers))
    page = await ok(await client.get("/api/farm/queue?limit=1", headers=headers))
    assert page["total"] == 2 and [j["name"] for j in page["jobs"]] == ["later"]
    await ok(await client.post(f"/api/farm/queue/jobs/{job['id']}/move", json={"after_id": None}, headers=headers))
    await ok(await client.post("/api/farm/queue/remove", json={"ids": [other["id"]]}, headers=headers))

    edited = await ok(await client.post(f"/api/farm/queue/jobs/{job['id']}", json={"draft": False}, headers=headers))
    assert edited["count"] == 2 and [s["path"] for s in edited["sets"]] == ["a.gcode", "b.gcode"]

    seen = await ok(await client.get("/api/farm/forecast?changeover=0", headers=headers))
    assert seen["assumedManaged"] is True and sorted(seen["printers"]) == ["p1", "p2"]
    assert sorted((c["path"], c["estimated"]) for c in seen["copies"]) == [
        ("a.gcode", True), ("a.gcode", True), ("b.gcode", True), ("b.gcode", True)]
    assert {c["printer"] for c in seen["copies"]} == {"p1", "p2"}
    assert seen["finish"] == pytest.approx(seen["now"] + 24.0, abs=1.0)  # two passes of 12 s, side by side

    await operational(farm)
    for name in ("p1", "p2"):
        await farm.printers[name].driver.set_active(True)

    async def all_printed() -> bool:
        stats = await ok(await client.get("/api/farm/statistics", headers=headers))
        return stats["farm"]["success"] == 4
    await until(all_printed, 40)
    stats = await ok(await client.get("/api/farm/statistics", headers=headers))
    assert stats["farm"]["successRate"] == 1.0 and stats["farm"]["runs"] == 4
    assert stats["farm"]["filamentMm"] == pytest.approx(4 * 7.5, abs=0.01)  # the analysis: 150 moves of 0.05 mm
    assert sum(p["success"] for p in stats["printers"].values()) == 4
    history = await ok(await client.get("/api/farm/history?result=success&limit=3", headers=headers))
    assert history["total"] == 4 and len(history["runs"]) == 3 and history["runs"][0]["printSeconds"] is not None
    none = await ok(await client.get("/api/farm/history?result=failure", headers=headers))
    assert none["total"] == 0
    wrong = await client.get("/api/farm/history?since=yesterday", headers=headers)
    assert wrong.status == 400 and "since" in (await wrong.json())["error"]

    response = await client.get("/api/farm/history.csv?printer=p1,p2", headers=headers)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 4 and {r["result"] for r in rows} == {"success"}
    assert {r["file"] for r in rows} == {"a.gcode", "b.gcode"} and all(float(r["filament_mm"]) == 7.5 for r in rows)

    reset = await ok(await client.post("/api/farm/queue/reset", json={"ids": [job["id"]]}, headers=headers))
    assert reset == {"reset": 1}
    exported = await ok(await client.post("/api/farm/queue/export", json={"ids": [job["id"]]}, headers=headers))
    (gjob,) = exported["paths"]
    imported = await ok(await client.post("/api/farm/queue/import", json={"path": Path(gjob).name},
                                          headers=headers), 201)
    assert imported["count"] == 2 and len(imported["sets"]) == 2 and imported["draft"] is True


async def test_access_keys_users_app_keys_and_simulate(farm_client) -> None:
    farm, client, headers = farm_client
    made = await ok(await client.post("/api/farm/access/keys", json={"name": "wall display", "role": "viewer"},
                                      headers=headers), 201)
    viewer = {"X-Api-Key": made["key"]}
    assert (await client.get("/api/farm/queue", headers=viewer)).status == 200
    assert (await client.post("/api/farm/files/folder", json={"path": "x"}, headers=viewer)).status == 403
    assert (await client.get("/api/farm/access", headers=viewer)).status == 403
    overview = await ok(await client.get("/api/farm/access", headers=headers))
    key_id = next(k["id"] for k in overview["keys"] if k["name"] == "wall display")
    assert overview["roles"] == ["admin", "operator", "viewer"]
    await ok(await client.post(f"/api/farm/access/keys/{key_id}/revoke", headers=headers))
    assert (await client.get("/api/farm/queue", headers=viewer)).status == 403
    await ok(await client.post("/api/farm/access/users", json={"name": "ana", "password": "s3cret", "role": "operator"},
                               headers=headers), 201)
    assert "ana" in [u["name"] for u in (await ok(await client.get("/api/farm/access", headers=headers)))["users"]]

    token = (await ok(await client.post("/plugin/appkeys/request", json={"app": "Slicer"}), 201))["app_token"]
    (waiting,) = (await ok(await client.get("/api/farm/appkeys", headers=headers)))["requests"]
    assert (await client.post(f"/api/farm/appkeys/{waiting['id']}", json={"decision": "allow", "role": "viewer"},
                              headers=headers)).status == 204
    app_key = (await ok(await client.get(f"/plugin/appkeys/request/{token}")))["api_key"]
    principal = await farm.auth.check_key(app_key)
    assert principal is not None and principal.role is Role.VIEWER

    simulated = await ok(await client.post("/api/farm/automation/simulate", json={
        "script": "G28\nM190 S{bed}", "preprocessor": "{'bed': 60} if current['path'].endswith('.gcode') else False",
        "symbols": {"current": {"path": "a.gcode"}}}, headers=headers))
    assert simulated["stderr"] == "" and "M190 S60" in simulated["gcode"]
    skipped = await ok(await client.post("/api/farm/automation/simulate", json={
        "script": "G28", "preprocessor": "current['path'] == 'b.gcode'", "symbols": {"current": {"path": "a.gcode"}}},
        headers=headers))
    assert "G28" not in skipped["gcode"]
