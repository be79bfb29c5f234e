"""OctoPrint's job on a file of the printer's SD card, over a real pty to the simulator's card: select
it, then start, pause, resume, restart and cancel it through /api/job, and a print that ends as it
is paused."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from test_queue_printing import get
from test_sd_card import _state, _true, executed, on_card, sd_gcode, until

pytestmark = pytest.mark.timeout(40)


async def test_select_an_sd_file_then_start_pause_resume_restart_and_cancel_it_through_api_job(inproc_slow: InProcess) -> None:
    """OctoPrint's own flow: select the card's file (no print), the job shows it; start, pause, resume
    and cancel go through /api/job and reach the firmware's card."""
    await on_card(inproc_slow, "long.gcode", sd_gcode("LONG", 20000))
    sim = inproc_slow.farm.printers["p1"].sim
    assert sim is not None
    response = await inproc_slow.client.post("/api/files/sdcard/long.gcode", headers=inproc_slow.headers, json={"command": "select"})
    assert response.status == 204, await response.text()
    job = await get(inproc_slow, "api/job", base="")
    size = len(sd_gcode("LONG", 20000))
    assert job["state"] == "Operational"
    assert job["job"]["file"] == {"name": "LONG~1.GCO", "path": "LONG~1.GCO", "display": "long.gcode",
                                  "origin": "sdcard", "size": size, "date": None}
    assert job["progress"]["completion"] is None and executed(inproc_slow, "M23") == []  # selected, not started

    async def command(body: dict[str, Any]) -> None:
        response = await inproc_slow.client.post("/api/job", headers=inproc_slow.headers, json=body)
        assert response.status == 204, await response.text()

    async def job_in(state: str) -> dict[str, Any] | None:
        job = await get(inproc_slow, "api/job", base="")
        return job if job["state"] == state and job["progress"]["filepos"] else None

    await command({"command": "start"})
    job = await until(lambda: job_in("Printing"), "the SD print under way in /api/job")
    assert job["job"]["file"]["origin"] == "sdcard" and job["job"]["file"]["name"] == "LONG~1.GCO"
    assert 0 < job["progress"]["completion"] < 100 and executed(inproc_slow, "M23 ") == ["M23 LONG~1.GCO"]

    await command({"command": "pause", "action": "pause"})
    paused = await until(lambda: job_in("Paused"), "the SD print paused")
    await until(lambda: _true(executed(inproc_slow, "M25") == ["M25"] and not sim.inspect(lambda fw: fw.sd.printing)),
                "M25 to stop the card feeding moves")
    moves = len(executed(inproc_slow, "G1 "))
    await asyncio.sleep(0.3)
    assert len(executed(inproc_slow, "G1 ")) <= moves + 1  # at most the move it was running
    assert (await get(inproc_slow, "api/job", base=""))["progress"]["filepos"] >= paused["progress"]["filepos"]

    await command({"command": "pause", "action": "resume"})
    await until(lambda: job_in("Printing"), "the SD print resumed")
    await until(lambda: _true(len(executed(inproc_slow, "G1 ")) > moves + 5), "moves from the card again")
    assert executed(inproc_slow, "M24") == ["M24", "M24"]

    await command({"command": "pause", "action": "toggle"})
    await until(lambda: job_in("Paused"), "the SD print paused again")
    await command({"command": "restart"})  # OctoPrint's restart: cancel the paused print, start it from the top
    await until(lambda: _true(executed(inproc_slow, "M23 ") == ["M23 LONG~1.GCO"] * 2 and len(executed(inproc_slow, "M24")) == 3),
                "the file selected and started again")
    assert executed(inproc_slow, "M524") == ["M524"]
    await until(lambda: _true(executed(inproc_slow, "M117 ") == ["M117 LONG"] * 2), "the file to run again from its start")
    await until(lambda: job_in("Printing"), "the restarted print's progress in /api/job")

    await command({"command": "cancel"})
    printer = inproc_slow.farm.printers["p1"].printer
    await until(lambda: _state(printer, "OPERATIONAL"), "the printer to be ready again")
    await until(lambda: _true(len(executed(inproc_slow, "M524")) == 2), "M524 to reach the firmware")
    assert sim.inspect(lambda fw: fw.sd.open_name is None and not fw.sd.printing)
    job = await get(inproc_slow, "api/job", base="")
    assert job["state"] == "Operational" and job["job"]["file"]["name"] == "LONG~1.GCO"
    assert 0 < job["progress"]["completion"] < 100  # where it stopped

    response = await inproc_slow.client.post("/api/files/sdcard/LONG~1.GCO", headers=inproc_slow.headers, json={"command": "unselect"})
    assert response.status == 204
    response = await inproc_slow.client.post("/api/job", headers=inproc_slow.headers, json={"command": "start"})
    assert response.status == 409 and "no file is selected" in (await response.json())["error"]


async def test_an_sd_print_that_ends_as_it_is_paused_ends_done(inproc_slow: InProcess) -> None:
    """The firmware reads the file's end before it reads the host's M25: its "Done printing file"
    reaches a printer that already shows Paused. The print is done and the printer ready again."""
    await on_card(inproc_slow, "part.gcode", sd_gcode("PART", 3000))
    entry = inproc_slow.farm.printers["p1"]
    assert entry.sim is not None
    done = await inproc_slow.farm.start_sd_print(entry, "part.gcode")
    assert entry.printer.state.name == "PRINTING"
    entry.sim.inspect(lambda fw: setattr(fw.sd, "position", fw.sd.size))  # the card's file read to its end
    entry.printer.pause()  # before the host reads what the firmware says next
    assert entry.printer.state.name == "PAUSED"
    result = await asyncio.wait_for(done, 5)
    assert result.outcome.name == "DONE"
    assert entry.printer.state.name == "OPERATIONAL" and not entry.printer.job_running
    job = await get(inproc_slow, "api/job", base="")
    assert job["state"] == "Operational" and job["progress"]["completion"] == 100
