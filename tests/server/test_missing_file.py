"""state/get marks each set whose file is not in the uploads folder (Continuous Print's ``missing_file``),
so an operator sees before the queue reaches it that a copy cannot print."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from test_queue_printing import get, post, write_file

pytestmark = pytest.mark.timeout(30)


async def put_on_card(farm: InProcess, name: str) -> None:
    entry = farm.farm.printers["p1"]
    assert entry.sim is not None
    while entry.printer.sd.state.name == "UNKNOWN":  # connecting
        await asyncio.sleep(0.02)
    entry.sim.inspect(lambda fw: fw.sd.add(name, b"M117 ON-CARD\n"))
    response = await farm.client.post("/api/printer/sd", headers=farm.headers, json={"command": "refresh"})
    assert response.status == 204, await response.text()


def missing(state: dict[str, Any]) -> dict[str, bool]:
    return {s["path"]: s["missing_file"] for q in state["queues"] for j in q["jobs"] for s in j["sets"]}


async def test_sets_say_which_files_are_missing(inproc: InProcess) -> None:
    write_file(inproc, "A.gcode", "FILE-A")
    job = (await post(inproc, "set/add", {"path": "A.gcode", "sd": False, "count": 1, "jobName": "j"}))["job_id"]
    added = await post(inproc, "set/add", {"path": "B.gcode", "sd": False, "count": 1, "job": job})
    assert added["set_"]["missing_file"] is True  # said at once, to whoever adds it
    await post(inproc, "set/add", {"path": "on-card.gcode", "sd": True, "count": 1, "job": job})
    assert missing(await get(inproc, "state/get")) == {"A.gcode": False, "B.gcode": True, "on-card.gcode": True}
    await put_on_card(inproc, "on-card.gcode")  # an SD set's file is looked for on the printer's card
    assert missing(await get(inproc, "state/get")) == {"A.gcode": False, "B.gcode": True, "on-card.gcode": False}

    deleted = await inproc.client.delete("/api/files/local/A.gcode", headers=inproc.headers)
    assert deleted.status == 204, await deleted.text()
    write_file(inproc, "B.gcode", "FILE-B")  # copied in by hand
    assert missing(await get(inproc, "state/get")) == {"A.gcode": True, "B.gcode": False, "on-card.gcode": False}
    edited = await post(inproc, "job/edit", {"json": f'{{"id": {job}, "name": "renamed"}}'})
    assert {s["path"]: s["missing_file"] for s in edited["sets"]} == {"A.gcode": True, "B.gcode": False,
                                                                     "on-card.gcode": False}
    summary = await inproc.client.get("/api/farm/summary", headers=inproc.headers)  # the dashboard's view
    assert summary.status == 200 and missing(await summary.json())["A.gcode"] is True
