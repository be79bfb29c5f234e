"""The dashboard's own API without a browser: the push channel, bulk actions, groups, maintenance,
presets, the demo farm's first start, and farm.toml's tags and webcam."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from farmctl.auth import Role
from farmctl.errors import FarmctlError
from farmctl.farm import demo
from farmctl.farm.config import FarmConfig, PrinterConfig, WebcamConfig, load_config
from farmctl.farm.farm import Farm, SimOptions
from farmctl.farm.one_view import OneView
from farmctl.http.app import build_main_app
from farmctl.http.farm_api import push
from farmctl.printer import PrinterState

pytestmark = pytest.mark.timeout(40)

PRINTERS = (PrinterConfig("p1", "sim", profile="marlin2", tags=("left",),
                          webcam=WebcamConfig(stream="http://cam.local/stream", snapshot="")),
            PrinterConfig("p2", "sim", profile="marlin2"),
            PrinterConfig("p3", "sim", profile="marlin2"))


@contextlib.asynccontextmanager
async def running(data: Path, printers: tuple[PrinterConfig, ...] = PRINTERS) -> AsyncIterator[tuple[Farm, TestClient, dict]]:
    async with Farm.running(FarmConfig(printers=printers), data, sim=SimOptions(full_speed=True, time_scale=0.0)) as farm:
        key = await farm.auth.add_key("api", Role.OPERATOR)
        async with TestClient(TestServer(build_main_app(farm), host="127.0.0.1")) as client:
            for entry in farm.printers.values():
                await entry.printer.command("M105", timeout=10)  # connected and past the handshake
            for _ in range(200):  # ... and past the firmware's capability report: Operational
                if all(entry.printer.state is PrinterState.OPERATIONAL for entry in farm.printers.values()):
                    break
                await asyncio.sleep(0.05)
            yield farm, client, {"X-Api-Key": key}


async def messages(ws, kind: str, timeout: float = 5.0) -> dict:
    """The next push message of this type (others in between are skipped)."""
    async def wait() -> dict:
        while True:
            message = await ws.receive_json()
            if message["type"] == kind:
                return message
    return await asyncio.wait_for(wait(), timeout)


async def test_push_sends_a_snapshot_then_only_what_changed_and_area_notices(tmp_path: Path) -> None:
    async with running(tmp_path / "data") as (farm, client, headers):
        refused = await client.get("/api/farm/push")
        assert refused.status == 403 and "error" in await refused.json()
        ws = await client.ws_connect(f"/api/farm/push?apikey={headers['X-Api-Key']}")
        hello = await messages(ws, "hello")
        assert hello["user"] == {"name": "api", "role": "operator"}
        snapshot = await messages(ws, "snapshot")
        assert [p["name"] for p in snapshot["printers"]] == ["p1", "p2", "p3"]
        first = snapshot["printers"][0]
        assert first["tags"] == ["left"] and first["webcam"] == {"stream": "http://cam.local/stream", "snapshot": ""}
        assert first["state"]["text"] == "Operational" and "trend" in first
        assert set(snapshot["revisions"]) == {"queue", "history", "files"}

        await farm.printers["p2"].driver.set_active(True)
        diff = await messages(ws, "diff")
        assert set(diff["printers"]) == {"p2"} and set(diff["printers"]["p2"]) == {"queue"}
        assert diff["printers"]["p2"]["queue"]["active"] is True

        before = snapshot["revisions"]["queue"]
        await farm.model.jobs.add_set({"path": "part.gcode", "count": 1}, job_name="part", job_draft=True)
        notice = await messages(ws, "changed")
        assert notice["areas"]["queue"] > before

        await ws.send_json({"watch": "p1"})
        await asyncio.sleep(0.3)
        sent = await client.post("/api/farm/printers/p1/action", json={"action": "commands", "commands": ["M117 hi"]},
                                 headers=headers)
        assert sent.status == 200, await sent.text()
        lines = await messages(ws, "terminal")
        assert lines["printer"] == "p1" and any("M117 hi" in line for line in lines["lines"])
        await ws.close()


def test_a_quiet_farm_pushes_nothing_after_its_snapshot() -> None:
    """With nothing changing, ticks send no diff at all (the channel's steady cost is what changes)."""

    class Quiet:
        printers: dict = {}
        revisions = {"queue": 0, "history": 0, "files": 0}
        one_view = OneView("quiet")

    session = push.FarmPushSession(Quiet())  # type: ignore[arg-type]
    assert session.snapshot(0.0)[0]["printers"] == []
    assert session.tick(10.0) == [] and session.tick(20.0) == []


async def test_a_revoked_key_ends_an_open_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "ACCESS_CHECK", 0.2)
    async with running(tmp_path / "data", PRINTERS[:1]) as (farm, client, _):
        key = await farm.auth.add_key("tablet", Role.VIEWER)
        ws = await client.ws_connect(f"/api/farm/push?apikey={key}")
        await messages(ws, "snapshot")
        [record] = [k for k in await farm.auth.list_keys() if k.name == "tablet"]
        await farm.auth.revoke_key(record.id)
        assert (await messages(ws, "logout"))["reason"]
        await ws.close()


async def test_bulk_actions_report_each_printer_and_check_their_options_first(tmp_path: Path) -> None:
    async with running(tmp_path / "data") as (farm, client, headers):
        async def bulk(body: dict) -> tuple[int, dict]:
            response = await client.post("/api/farm/bulk", json=body, headers=headers)
            return response.status, await response.json()

        status, answer = await bulk({"action": "pause", "printers": ["p1", "p2"]})
        assert status == 200
        assert answer["results"] == [{"printer": "p1", "error": "printer p1: no print job is running"},
                                     {"printer": "p2", "error": "printer p2: no print job is running"}]
        assert (await bulk({"action": "explode", "printers": ["p1"]}))[0] == 400
        assert (await bulk({"action": "pause", "printers": ["p1", "nope"]}))[0] == 404
        assert (await bulk({"action": "pause", "printers": []}))[0] == 400
        status, answer = await bulk({"action": "preheat", "printers": ["p1"], "preset": "Unobtainium"})
        assert status == 404 and "PLA" in answer["error"]
        assert farm.printers["p1"].printer.temperatures is not None

        status, answer = await bulk({"action": "preheat", "printers": ["p1", "p3"], "preset": "PETG"})
        assert status == 200 and all(r["error"] is None for r in answer["results"])
        for name in ("p1", "p3"):
            sim = farm.printers[name].sim
            assert sim is not None and sim.inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (240, 80)
        assert farm.printers["p2"].sim.inspect(lambda fw: fw.hotend.target) == 0

        status, answer = await bulk({"action": "print", "printers": ["p1"], "path": "missing.gcode"})
        assert status == 200 and answer["results"][0]["error"]
        assert farm.printers["p1"].printer.state.name == "OPERATIONAL"


async def test_presets_groups_and_maintenance_are_kept_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as (farm, client, headers):
        bad = await client.put("/api/farm/presets", json={"presets": [{"name": "PLA", "tool": 999, "bed": 60}]},
                               headers=headers)
        assert bad.status == 400 and "tool" in (await bad.json())["error"]
        twice = await client.put("/api/farm/presets", json={"presets": [{"name": "PLA", "tool": 200, "bed": 60},
                                                                           {"name": "pla", "tool": 210, "bed": 60}]},
                                 headers=headers)
        assert twice.status == 400
        assert [p["name"] for p in (await (await client.get("/api/farm/presets", headers=headers)).json())["presets"]] \
            == ["PLA", "PETG", "ABS", "TPU"]  # the refused edits changed nothing
        saved = await client.put("/api/farm/presets", json={"presets": [{"name": "PCTG", "tool": 250, "bed": 85}]},
                                 headers=headers)
        assert saved.status == 200

        assert (await client.put("/api/farm/printers/p2/tags", json={"tags": ["right", "petg"]},
                                 headers=headers)).status == 200
        assert (await client.put("/api/farm/printers/p2/tags", json={"tags": ["no/slash"]},
                                 headers=headers)).status == 400

        on = await client.put("/api/farm/printers/p3/maintenance", json={"on": True, "note": "new nozzle"},
                              headers=headers)
        assert on.status == 200
        refused = await client.post("/api/farm/printers/p3/action", json={"action": "manage"}, headers=headers)
        assert refused.status == 409 and "maintenance" in (await refused.json())["error"]
        cp = await client.post("/printers/p3/plugin/continuousprint/set_active", data={"active": "true"},
                               headers=headers)
        assert cp.status == 409  # Continuous Print's own switch is refused the same way
        assert not farm.printers["p3"].driver.active

    async with running(data) as (farm, client, headers):
        assert [p.name for p in farm.presets] == ["PCTG"]
        settings = await (await client.get("/printers/p1/api/settings", headers=headers)).json()
        assert settings["temperature"]["profiles"] == [{"name": "PCTG", "extruder": 250.0, "bed": 85.0,
                                                        "chamber": None}]
        assert settings["webcam"]["webcamEnabled"] and settings["webcam"]["streamUrl"] == "http://cam.local/stream"
        assert farm.printers["p1"].tags == ("left",) and farm.printers["p2"].tags == ("right", "petg")
        assert farm.printers["p3"].maintenance == "new nozzle"
        with pytest.raises(FarmctlError):
            await farm.printers["p3"].driver.set_active(True)
        off = await client.put("/api/farm/printers/p3/maintenance", json={"on": False}, headers=headers)
        assert off.status == 200
        await farm.printers["p3"].driver.set_active(True)


async def test_the_demo_farm_starts_with_a_sample_part_and_a_draft_job_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as (farm, client, headers):
        assert await demo.seed(farm)
        assert (farm.uploads_dir / demo.SAMPLE_PART).is_file()
        info = await farm.uploads.info(demo.SAMPLE_PART)
        assert info.analysis is not None and info.analysis.estimated_print_time
        offer = (await (await client.get("/api/farm/demo", headers=headers)).json())["offer"]
        assert offer["copies"] == 3 and offer["printers"] == ["p1", "p2", "p3"]
        assert not await farm.printers["p1"].driver.has_work()  # a draft: nothing printable yet
        started = await client.post("/api/farm/demo/start", headers=headers)
        assert started.status == 200
        assert all(entry.driver.active for entry in farm.printers.values())
        assert (await (await client.get("/api/farm/demo", headers=headers)).json())["offer"] is None
        for entry in farm.printers.values():
            await entry.driver.set_active(False)
    async with running(data) as (farm, _, _):
        assert not await demo.seed(farm)  # a farm someone used is left alone


def test_farm_toml_tags_and_webcam_are_checked_with_their_line(tmp_path: Path) -> None:
    good = tmp_path / "farm.toml"
    good.write_text('[[printers]]\nname = "a"\nport = "sim"\ntags = ["left", "petg", "left"]\n'
                    'webcam = { stream = "http://cam/stream", snapshot = "http://cam/snap.jpg" }\n')
    printer = load_config(good).printers[0]
    assert printer.tags == ("left", "petg")
    assert printer.webcam == WebcamConfig("http://cam/stream", "http://cam/snap.jpg")
    for bad, words in ((' tags = "left"', "tags must be a list"), ('tags = ["a/b"]', "tag 'a/b'"),
                       ('webcam = { stream = "file:///etc/passwd" }', "webcam.stream"),
                       ('webcam = { url = "http://x" }', "webcam must be a table")):
        path = tmp_path / "bad.toml"
        path.write_text(f'[[printers]]\nname = "a"\nport = "sim"\n{bad}\n')
        with pytest.raises(FarmctlError) as caught:
            load_config(path)
        assert words in caught.value.message and ":4:" in caught.value.message, caught.value.message


async def test_idle_with_work_is_looked_up_once_for_every_open_page_and_per_loadout(tmp_path: Path) -> None:
    """"Idle while its queue has work" asks the queue once per revision for all idle, unmanaged
    printers and all pages together, and each printer by its own profile and loaded material."""
    async with running(tmp_path / "data") as (farm, client, headers):
        reads = []
        with_work = farm.model.counting.with_work

        async def counted(wanted):
            reads.append(sorted(wanted))
            return await with_work(wanted)

        farm.model.counting.with_work = counted  # type: ignore[method-assign]
        await farm.set_materials(farm.printers["p3"], ["PETG_black_#000000"])
        await farm.model.jobs.add_set({"path": "part.gcode", "count": 1, "materials": ["PLA_red_#ff0000"]},
                                      job_name="red part", job_draft=False)
        pages = [await client.ws_connect(f"/api/farm/push?apikey={headers['X-Api-Key']}") for _ in range(3)]
        for ws in pages:
            cards = {card["name"]: card for card in (await messages(ws, "snapshot"))["printers"]}
            # p1 and p2 track no material, so the red part may print on them; p3 has PETG loaded.
            assert cards["p1"]["attention"]["kind"] == "idle_with_work"
            assert cards["p2"]["attention"]["kind"] == "idle_with_work"
            assert cards["p3"]["attention"] is None
        assert reads == [["p1", "p2", "p3"]]  # one read for three printers and three pages

        await farm.set_materials(farm.printers["p3"], ["PLA_red_#ff0000"])  # a new loadout asks again
        for ws in pages:
            diff = await messages(ws, "diff")
            assert diff["printers"]["p3"]["attention"]["kind"] == "idle_with_work"
        assert len(reads) == 2

        await farm.printers["p1"].driver.set_active(True)  # managed: never asked about again
        for ws in pages:
            await messages(ws, "diff")
        assert all("p1" not in read for read in reads[2:])
        for ws in pages:
            await ws.close()
