"""Printing from the printer's own SD card, over real ptys to the simulator's card: the queue's SD
sets, OctoPrint's SD surface, uploads to the card and every way an SD print can end."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from conftest import in_process
from server_helpers import NO_HOOKS
from test_queue_printing import get, post, wait_for_runs

from farmctl.farm.config import PrinterConfig

pytestmark = pytest.mark.timeout(40)


def sd_gcode(marker: str, moves: int) -> bytes:
    lines = ["G28", f"M117 {marker}"] + [f"G1 X{10 + i % 50} Y{10 + i % 40} F6000" for i in range(moves)]
    return ("\n".join(lines) + "\n").encode()


async def on_card(farm: InProcess, name: str, data: bytes, printer: str = "p1") -> None:
    """Put a file on the simulated card (as if copied on a computer), then let the host list it again."""
    entry = farm.farm.printers[printer]
    assert entry.sim is not None
    await card_known(farm, printer)
    entry.sim.inspect(lambda fw: fw.sd.add(name, data))
    response = await farm.client.post(f"/printers/{printer}/api/printer/sd", headers=farm.headers,
                                      json={"command": "refresh"})
    assert response.status == 204, await response.text()


async def card_known(farm: InProcess, printer: str = "p1") -> None:
    entry = farm.farm.printers[printer]
    await until(lambda: _true(entry.printer.sd.state.name != "UNKNOWN"), "the printer to connect and look at its card")


def executed(farm: InProcess, prefix: str, printer: str = "p1") -> list[str]:
    sim = farm.farm.printers[printer].sim
    assert sim is not None
    return [e.command for e in sim.executed if e.command.startswith(prefix)]


async def farm_view_attention(farm: InProcess, printer: str) -> dict[str, Any] | None:
    """What the farm view's "needs attention" strip shows for a printer (its push channel's first snapshot)."""
    ws = await farm.client.ws_connect(f"/api/farm/push?apikey={farm.headers['X-Api-Key']}")
    try:
        while (message := await asyncio.wait_for(ws.receive_json(), 5))["type"] != "snapshot":
            pass
    finally:
        await ws.close()
    return next(p for p in message["printers"] if p["name"] == printer)["attention"]


async def until(check: Any, what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return value


async def sd_job(farm: InProcess, path: str, count: int) -> int:
    added = await post(farm, "set/add", {"json": json.dumps({"path": path, "sd": True, "count": count,
                                                             "jobName": path, "jobDraft": False})})
    return added["job_id"]


async def test_a_count_2_sd_set_prints_twice_from_the_card_with_progress(inproc_slow: InProcess) -> None:
    await on_card(inproc_slow, "cube.gcode", sd_gcode("SD-CUBE", 300))
    files = await get(inproc_slow, "api/files/sdcard", base="")
    assert [(f["name"], f["display"], f["origin"]) for f in files["files"]] == [("CUBE~1.GCO", "cube.gcode", "sdcard")]
    printer = await get(inproc_slow, "api/printer", base="")
    assert printer["sd"] == {"ready": True} and printer["state"]["flags"]["sdReady"] is True
    await post(inproc_slow, "automation/edit", {"json": NO_HOOKS})
    job_id = await sd_job(inproc_slow, "cube.gcode", 2)
    assert (await get(inproc_slow, "state/get"))["queues"][0]["jobs"][0]["sets"][0]["missing_file"] is False
    await post(inproc_slow, "set_active", {"active": True})

    for copy in (1, 2):
        async def midway() -> dict[str, Any] | None:
            job = await get(inproc_slow, "api/job", base="")
            completion = job["progress"]["completion"]
            under_way = job["state"] == "Printing" and completion and 0 < completion < 100
            return job if under_way and len(executed(inproc_slow, "M23 ")) == copy else None
        job = await until(midway, f"copy {copy} part way through in /api/job")
        assert job["job"]["file"]["origin"] == "sdcard" and job["job"]["file"]["display"] == "cube.gcode"
        assert job["progress"]["filepos"] > 0

    runs = await wait_for_runs(inproc_slow, 2, timeout=20)
    assert [(r["set_path"], r["result"]) for r in runs] == [("cube.gcode", "success")] * 2
    assert executed(inproc_slow, "M117 ") == ["M117 SD-CUBE"] * 2  # run by the firmware from its card
    assert executed(inproc_slow, "M23 ") == ["M23 CUBE~1.GCO"] * 2 and len(executed(inproc_slow, "M24")) == 2
    job = next(j for j in (await get(inproc_slow, "state/get"))["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["sets"][0]["remaining"] == 0 and job["sets"][0]["completed"] == 2
    done = await get(inproc_slow, "api/job", base="")
    assert done["progress"]["completion"] == 100 and done["job"]["file"]["origin"] == "sdcard"


async def test_an_sd_set_whose_file_is_not_on_the_card_is_missing_and_never_started(inproc: InProcess) -> None:
    inproc.farm.printers["p1"].driver.start_retry_delay = 0.1
    await on_card(inproc, "other.gcode", sd_gcode("OTHER", 2))
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    job_id = await sd_job(inproc, "ghost.gcode", 1)
    state = await get(inproc, "state/get")
    assert state["queues"][0]["jobs"][0]["sets"][0]["missing_file"] is True
    await post(inproc, "set_active", {"active": True})

    async def stopped() -> dict[str, Any] | None:
        state = await get(inproc, "state/get")
        return state if not state["active"] else None
    state = await until(stopped, "the queue to give up")
    assert state["status"] == "Failed to start; too many attempts" and state["statusType"] == "ERROR"
    assert "ghost.gcode is not on the printer's SD card" in state["reason"]
    assert executed(inproc, "M23") == [] and executed(inproc, "M24") == []
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["remaining"] == 1 and job["sets"][0]["remaining"] == 1


async def test_a_card_taken_out_leaves_the_copy_owed_until_it_is_initialised_again(inproc: InProcess) -> None:
    """No card, no attempt: the copy waits with Continuous Print's status saying why, the driver tries
    to mount the card now and then, and an init once the card is back lets the queue go on."""
    driver = inproc.farm.printers["p1"].driver
    driver.card_recheck = 0.1
    await on_card(inproc, "part.gcode", sd_gcode("PART", 2))
    sim = inproc.farm.printers["p1"].sim
    assert sim is not None
    sim.sd_take_out()
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    job_id = await sd_job(inproc, "part.gcode", 1)
    await post(inproc, "set_active", {"active": True})

    async def awaiting() -> dict[str, Any] | None:
        state = await get(inproc, "state/get")
        return state if state["status"].startswith("Awaiting SD card") else None
    state = await until(awaiting, "the queue to wait for the card")
    assert state["statusType"] == "NEEDS_ACTION" and state["active"] is True
    assert state["status"] == ("Awaiting SD card: part.gcode waits for the printer's SD card (none inserted, or it "
                               "failed to initialise); the copy is still owed")
    mounts = len(executed(inproc, "M21"))
    await until(lambda: _true(len(executed(inproc, "M21")) >= mounts + 4), "the driver to try the card again")
    state = await get(inproc, "state/get")  # more tries than MAX_START_ATTEMPTS, and no attempt counted
    assert state["status"].startswith("Awaiting SD card") and state["active"] is True
    assert await get(inproc, "history/get") == [] and executed(inproc, "M23") == []
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["sets"][0]["remaining"] == 1 and job["acquired"] is False

    attention = await farm_view_attention(inproc, "p1")
    assert attention == {"kind": "sd_card", "text": "part.gcode waits for an SD card: insert it",
                         "choices": [{"label": "Card inserted", "action": "card_init", "choice": None}]}
    response = await inproc.client.post("/api/farm/printers/p1/action", headers=inproc.headers,
                                        json={"action": "card_init"})  # clicked with the slot still empty
    assert response.status == 409
    assert (await response.json())["error"] == "the printer found no SD card to mount: insert one and try again"

    driver.card_recheck = 60.0  # from here only the init below can make the driver look again soon
    await asyncio.sleep(0.2)
    sim.sd_put_back()
    response = await inproc.client.post("/api/printer/sd", headers=inproc.headers, json={"command": "init"})
    assert response.status == 204, await response.text()
    runs = await wait_for_runs(inproc, 1, timeout=10)
    assert [(r["set_path"], r["result"]) for r in runs] == [("part.gcode", "success")]
    assert executed(inproc, "M117 ") == ["M117 PART"]
    state = await get(inproc, "state/get")
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["sets"][0]["completed"] == 1 and not state["status"].startswith("Awaiting SD card")


async def test_an_upload_to_the_card_then_a_print_of_it(inproc: InProcess) -> None:
    await card_known(inproc)
    body = b"; a part\nG28\nM117 UPLOADED\nG1 X10 Y10 F6000\nG1 X20 Y20\n"
    form = aiohttp.FormData()
    form.add_field("file", body, filename="part.gcode", content_type="application/octet-stream")
    response = await inproc.client.post("/api/files/sdcard", headers=inproc.headers, data=form)
    assert response.status == 201, await response.text()
    saved = (await response.json())["files"]["sdcard"]
    assert saved["origin"] == "sdcard" and saved["name"] == "PART~1.GCO"  # an 8.3 alias, as FAT gives it
    sim = inproc.farm.printers["p1"].sim
    assert sim is not None
    assert sim.sd_files()["PART~1.GCO"] == b"G28\nM117 UPLOADED\nG1 X10 Y10 F6000\nG1 X20 Y20\n"
    assert executed(inproc, "M117") == []  # written to the card, not run
    listed = await get(inproc, "api/files", base="")
    assert [f["name"] for f in listed["files"] if f["origin"] == "sdcard"] == ["PART~1.GCO"]

    response = await inproc.client.post("/api/files/sdcard/PART~1.GCO", headers=inproc.headers,
                                        json={"command": "select", "print": True})
    assert response.status == 204, await response.text()

    async def printed() -> bool:
        return executed(inproc, "M117 ") == ["M117 UPLOADED"] and inproc.farm.printers["p1"].printer.state.name == "OPERATIONAL"
    await until(printed, "the uploaded file to print from the card")
    job = await get(inproc, "api/job", base="")
    assert job["job"]["file"]["origin"] == "sdcard" and job["progress"]["completion"] == 100

    response = await inproc.client.delete("/api/files/sdcard/PART~1.GCO", headers=inproc.headers)
    assert response.status == 204, await response.text()
    assert "PART~1.GCO" not in sim.sd_files()


async def test_cancel_of_an_sd_print(inproc_slow: InProcess) -> None:
    await on_card(inproc_slow, "long.gcode", sd_gcode("LONG", 3000))
    response = await inproc_slow.client.post("/api/files/sdcard/LONG~1.GCO", headers=inproc_slow.headers,
                                      json={"command": "select", "print": True})
    assert response.status == 204, await response.text()
    await until(lambda: _started(inproc_slow), "the SD print to start")
    response = await inproc_slow.client.post("/api/job", headers=inproc_slow.headers, json={"command": "cancel"})
    assert response.status == 204, await response.text()
    printer = inproc_slow.farm.printers["p1"].printer
    await until(lambda: _state(printer, "OPERATIONAL"), "the printer to be ready again")
    sim = inproc_slow.farm.printers["p1"].sim
    assert sim is not None
    await until(lambda: _true(bool(executed(inproc_slow, "M524"))), "M524 to reach the firmware")
    assert sim.inspect(lambda fw: fw.sd.open_name is None and not fw.sd.printing)  # the card stopped
    moves = len(executed(inproc_slow, "G1 "))
    await asyncio.sleep(0.3)
    assert len(executed(inproc_slow, "G1 ")) == moves < 3000


async def test_a_cancel_on_the_printers_screen_is_recorded_as_cancelled(inproc_slow: InProcess) -> None:
    await on_card(inproc_slow, "long.gcode", sd_gcode("LONG", 3000))
    await post(inproc_slow, "automation/edit", {"json": NO_HOOKS})
    job_id = await sd_job(inproc_slow, "long.gcode", 2)
    await post(inproc_slow, "set_active", {"active": True})
    await until(lambda: _started(inproc_slow), "the SD print to start")
    sim = inproc_slow.farm.printers["p1"].sim
    assert sim is not None
    sim.sd_abort()  # "Stop print" on the printer: it stops the file and tells the host //action:cancel
    runs = await wait_for_runs(inproc_slow, 1, timeout=10)
    assert [r["result"] for r in runs] == ["cancelled"]
    state = await get(inproc_slow, "state/get")
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["sets"][0]["remaining"] == 2 and job["sets"][0]["completed"] == 0
    assert state["active"] is False


async def test_an_sd_abort_on_a_firmware_that_tells_the_host_nothing_is_recorded_as_cancelled(tmp_path: Path) -> None:
    """Marlin 1.1 sends no //action:cancel: its progress reports say "Not SD printing" with no "Done
    printing file" before, and the copy is recorded cancelled, still owed, and the queue stops."""
    printers = (PrinterConfig("p1", "sim", profile="marlin1"),)
    async with in_process(tmp_path / "data", printers=printers, time_scale=0.01) as farm:
        await on_card(farm, "long.gcode", sd_gcode("LONG", 3000))
        await post(farm, "automation/edit", {"json": NO_HOOKS})
        job_id = await sd_job(farm, "long~1.gco", 2)  # this firmware lists no long names: the set names the 8.3 one
        await post(farm, "set_active", {"active": True})
        await until(lambda: _started(farm), "the SD print to start")
        sim = farm.farm.printers["p1"].sim
        assert sim is not None
        sim.sd_abort()
        runs = await wait_for_runs(farm, 1, timeout=10)
        assert [r["result"] for r in runs] == ["cancelled"]
        assert executed(farm, "M26") == []  # the host sent no cancel: it saw the firmware's own stop
        state = await get(farm, "state/get")
        job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
        assert job["sets"][0]["remaining"] == 2 and job["sets"][0]["completed"] == 0
        assert state["active"] is False and "was cancelled" in state["status"]
        assert executed(farm, "M117 ") == ["M117 LONG"]  # not started again


@pytest.mark.parametrize("profile, cancel", [("marlin1", "M26 S0"), ("prusa-mk3", "M26 S0")])
async def test_other_firmwares_print_and_cancel_from_the_card(tmp_path: Path, profile: str, cancel: str) -> None:
    """Marlin 1.1 and Prusa name no SDCARD cap: farmctl asks (M21); they have no M524 and no M27 S."""
    printers = (PrinterConfig("p1", "sim", profile=profile),)
    async with in_process(tmp_path / "data", printers=printers, time_scale=0.01) as farm:
        printer = farm.farm.printers["p1"].printer
        await until(lambda: _state(printer, "OPERATIONAL"), "the printer to connect")
        assert (await get(farm, "api/printer", base=""))["sd"] == {"ready": True}
        await on_card(farm, "short.gcode", sd_gcode("SHORT", 5))
        await on_card(farm, "long.gcode", sd_gcode("LONG", 3000))
        short = next(f["name"] for f in (await get(farm, "api/files/sdcard", base=""))["files"] if "SHORT" in f["name"])
        response = await farm.client.post(f"/api/files/sdcard/{short}", headers=farm.headers,
                                          json={"command": "select", "print": True})
        assert response.status == 204, await response.text()
        await until(lambda: _true(executed(farm, "M117 ") == ["M117 SHORT"] and printer.state.name == "OPERATIONAL"),
                    "the short file to print to its end")
        assert printer.progress is not None and printer.progress.fraction == 1.0
        long = next(f["name"] for f in (await get(farm, "api/files/sdcard", base=""))["files"] if "LONG" in f["name"])
        response = await farm.client.post(f"/api/files/sdcard/{long}", headers=farm.headers,
                                          json={"command": "select", "print": True})
        assert response.status == 204, await response.text()
        await until(lambda: _true(bool(executed(farm, "M117 LONG"))), "the long file to start")
        response = await farm.client.post("/api/job", headers=farm.headers, json={"command": "cancel"})
        assert response.status == 204, await response.text()
        await until(lambda: _true(cancel in executed(farm, "M26")), f"{cancel} to reach the firmware")
        assert executed(farm, "M524") == []


async def test_a_firmware_without_sd_support_says_so(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", "p1") as farm:
        entry = farm.farm.printers["p1"]
        await card_known(farm)
        entry.printer.sd.state = type(entry.printer.sd.state).UNKNOWN
        assert entry.sim is not None
        entry.sim.inspect(lambda fw: setattr(fw, "sd", None))  # as built without SDSUPPORT
        response = await farm.client.post("/api/printer/sd", headers=farm.headers, json={"command": "init"})
        assert response.status == 409
        assert "no SD card support" in (await response.json())["error"]
        printer = await get(farm, "api/printer", base="")
        assert printer["sd"] == {"ready": False} and printer["state"]["flags"]["sdReady"] is False
        response = await farm.client.get("/api/files/sdcard", headers=farm.headers)
        assert response.status == 409 and "no SD card support" in (await response.json())["error"]


async def _started(farm: InProcess) -> bool:
    return bool(executed(farm, "M117 ")) and farm.farm.printers["p1"].printer.state.name == "PRINTING"


async def _state(printer: Any, name: str) -> bool:
    return printer.state.name == name


async def _true(value: bool) -> bool:
    return value
