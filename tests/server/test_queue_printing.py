"""The queue really prints: order of copies on the simulator, and two printers sharing one queue.

In-process (Farm + the main app on an aiohttp test server) so the simulated printers' executed
commands can be read: each file carries its own ``M117`` marker, so the order of markers the
firmware ran is the order of prints.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from conftest import InProcess
from server_helpers import CP, NO_HOOKS

pytestmark = pytest.mark.timeout(30)


async def post(farm: InProcess, path: str, data: dict[str, Any], base: str = CP) -> Any:
    response = await farm.client.post(f"{base}/{path}", data=data, headers=farm.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def get(farm: InProcess, path: str, base: str = CP) -> Any:
    response = await farm.client.get(f"{base}/{path}", headers=farm.headers)
    assert response.status == 200, await response.text()
    return await response.json()


def write_file(farm: InProcess, name: str, marker: str, moves: int = 3) -> None:
    """A small G-code file whose ``M117 <marker>`` shows up in the simulator's executed list."""
    lines = ["G28", f"M117 {marker}"] + [f"G1 X{10 + i % 50} Y{10 + i % 40} F6000" for i in range(moves)]
    (farm.uploads / name).write_text("\n".join(lines) + "\n")


async def make_job(farm: InProcess, sets: list[tuple[str, int]], count: int, base: str = CP) -> int:
    job_id = None
    for path, set_count in sets:
        data = {"path": path, "sd": False, "count": set_count, "jobName": "j"}
        if job_id is not None:
            data["job"] = job_id
        job_id = (await post(farm, "set/add", data, base))["job_id"]
    await post(farm, "job/edit", {"json": json.dumps({"id": job_id, "count": count, "remaining": count,
                                                      "draft": False})}, base)
    return job_id


async def wait_for_runs(farm: InProcess, n: int, timeout: float, base: str = CP) -> list[dict[str, Any]]:
    """The closed runs, oldest first, once there are ``n`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        closed = [r for r in reversed(await get(farm, "history/get", base)) if r["result"] is not None]
        if len(closed) >= n or time.monotonic() > deadline:
            return closed
        await asyncio.sleep(0.05)


def markers(farm: InProcess, printer: str) -> list[str]:
    sim = farm.farm.printers[printer].sim
    assert sim is not None
    return [e.command.split(" ", 1)[1] for e in sim.executed if e.command.startswith("M117 ")]


async def test_job_of_three_with_sets_a_b_prints_a_b_a_b_a_b(inproc: InProcess) -> None:
    write_file(inproc, "A.gcode", "FILE-A")
    write_file(inproc, "B.gcode", "FILE-B")
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    job_id = await make_job(inproc, [("A.gcode", 1), ("B.gcode", 1)], count=3)

    await post(inproc, "set_active", {"active": True})
    runs = await wait_for_runs(inproc, 6, timeout=15)

    assert [(r["set_path"], r["result"]) for r in runs] == [("A.gcode", "success"), ("B.gcode", "success")] * 3
    assert markers(inproc, "p1") == ["FILE-A", "FILE-B"] * 3
    await asyncio.sleep(0.3)  # nothing more prints once the job is done
    assert markers(inproc, "p1") == ["FILE-A", "FILE-B"] * 3
    job = next(j for j in (await get(inproc, "state/get"))["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["remaining"] == 0 and job["acquired"] is False
    assert [(s["remaining"], s["completed"]) for s in job["sets"]] == [(0, 1), (0, 1)]


async def test_set_counts_within_a_pass(inproc: InProcess) -> None:
    """A×2, B×1, job count 2: A A B A A B (a set prints all its copies before the next set)."""
    write_file(inproc, "A.gcode", "FILE-A")
    write_file(inproc, "B.gcode", "FILE-B")
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    await make_job(inproc, [("A.gcode", 2), ("B.gcode", 1)], count=2)
    await post(inproc, "set_active", {"active": True})
    runs = await wait_for_runs(inproc, 6, timeout=15)
    assert [r["set_path"] for r in runs] == ["A.gcode", "A.gcode", "B.gcode"] * 2
    assert markers(inproc, "p1") == ["FILE-A", "FILE-A", "FILE-B"] * 2


async def test_two_printers_share_a_queue_without_printing_a_copy_twice(inproc2: InProcess) -> None:
    """Job count 3 with one set of 2 copies (6 copies, 2 printable at a time) on two printers."""
    farm_cp = "/farm" + CP
    write_file(inproc2, "part.gcode", "PART", moves=150)  # long enough that both printers overlap
    await post(inproc2, "automation/edit", {"json": NO_HOOKS}, farm_cp)
    job_id = await make_job(inproc2, [("part.gcode", 2)], count=3, base=farm_cp)

    state = await post(inproc2, "set_active", {"active": True}, farm_cp)
    assert state["active"] is True
    runs = await wait_for_runs(inproc2, 6, timeout=20, base=farm_cp)

    assert [r["result"] for r in runs] == ["success"] * 6
    assert len({r["run_id"] for r in runs}) == 6
    done = {name: markers(inproc2, name) for name in ("p1", "p2")}
    assert len(done["p1"]) + len(done["p2"]) == 6, done  # every copy printed once, none twice
    assert done["p1"] and done["p2"], f"one printer did everything: {done}"
    await asyncio.sleep(0.3)
    assert len(markers(inproc2, "p1")) + len(markers(inproc2, "p2")) == 6
    job = next(j for j in (await get(inproc2, "state/get", farm_cp))["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["remaining"] == 0 and job["sets"][0]["remaining"] == 0


async def test_a_copy_released_by_one_printer_is_taken_by_the_idle_other_at_once(inproc2: InProcess) -> None:
    """p1's print is cancelled: its copy is owed again, and idle p2 picks it up without a recheck delay."""
    farm_cp = "/farm" + CP
    (inproc2.uploads / "held.gcode").write_text("M117 HELD\n@pause\nG1 X10 F6000\n")
    await post(inproc2, "automation/edit", {"json": NO_HOOKS}, farm_cp)
    await make_job(inproc2, [("held.gcode", 1)], count=1, base=farm_cp)
    await post(inproc2, "set_active", {"active": True}, farm_cp)

    printers = inproc2.farm.printers
    deadline = time.monotonic() + 10
    while not any(p.printer.state.value.lower().startswith("paused") for p in printers.values()):
        assert time.monotonic() < deadline, "no printer reached the @pause"
        await asyncio.sleep(0.02)
    holder = next(n for n, p in printers.items() if p.printer.state.value.lower().startswith("paused"))
    other = "p2" if holder == "p1" else "p1"
    await asyncio.sleep(0.2)  # the other printer has looked, found nothing and gone idle
    assert printers[other].driver.state.name == "IDLE"

    cancelled_at = time.monotonic()
    printers[holder].printer.cancel()
    while not markers(inproc2, other):
        assert time.monotonic() - cancelled_at < 10, "the released copy was never printed"
        await asyncio.sleep(0.02)
    waited = time.monotonic() - cancelled_at
    assert waited < 2.0, f"{other} sat idle {waited:.1f}s while a copy was owed"
    runs = await wait_for_runs(inproc2, 1, timeout=5, base=farm_cp)
    assert runs[0]["result"] == "cancelled"


@pytest.mark.parametrize("path", ["../outside.gcode", "{data}/outside.gcode", "sub/../../outside.gcode"])
async def test_a_set_path_outside_the_uploads_folder_is_refused_and_never_printed(inproc: InProcess,
                                                                                 path: str) -> None:
    outside = inproc.uploads.parent / "outside.gcode"
    outside.write_text("M117 OUTSIDE\n")
    (inproc.uploads / "sub").mkdir()
    path = path.format(data=inproc.uploads.parent)
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    before = await get(inproc, "state/get")
    response = await inproc.client.post(f"{CP}/set/add", headers=inproc.headers,
                                        data={"path": path, "sd": False, "count": 1, "jobDraft": False})
    assert response.status == 400, await response.text()
    assert "error" in await response.json()
    assert await get(inproc, "state/get") == before
    await post(inproc, "set_active", {"active": True})
    await asyncio.sleep(0.3)
    assert markers(inproc, "p1") == []


async def test_a_stored_path_that_leads_outside_is_not_printed(inproc: InProcess) -> None:
    """A symlink inside uploads pointing out (or a row from before paths were checked) stops the queue."""
    outside = inproc.uploads.parent / "outside.gcode"
    outside.write_text("M117 OUTSIDE\n")
    (inproc.uploads / "link.gcode").symlink_to(outside)
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    await make_job(inproc, [("link.gcode", 1)], count=1)
    state = await post(inproc, "set_active", {"active": True})
    deadline = time.monotonic() + 5
    while state["active"]:
        assert time.monotonic() < deadline, "the queue kept going"
        await asyncio.sleep(0.05)
        state = await get(inproc, "state/get")
    assert markers(inproc, "p1") == []
    assert "outside" in state["status"], state["status"]
    job = state["queues"][0]["jobs"][0]
    assert job["remaining"] == 1 and job["sets"][0]["remaining"] == 1  # still owed


async def test_set_active_again_during_a_print_keeps_the_printing_status(inproc: InProcess) -> None:
    """Scripts re-send active=true; that must not make a paused or printing printer look idle."""
    (inproc.uploads / "held.gcode").write_text("M117 HELD\n@pause\nG1 X10 F6000\n")
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    await make_job(inproc, [("held.gcode", 1)], count=1)
    await post(inproc, "set_active", {"active": True})
    deadline = time.monotonic() + 10
    while (await get(inproc, "state/get"))["status"] != "Paused":
        assert time.monotonic() < deadline, "the print never reached its @pause"
        await asyncio.sleep(0.02)
    assert (await post(inproc, "set_active", {"active": True}))["status"] == "Paused"
    off = await post(inproc, "set_active", {"active": False})  # stops taking work, not the print
    assert off["active"] is False and off["status"] == "Paused"
    on = await post(inproc, "set_active", {"active": True})
    assert on["active"] is True and on["status"] == "Paused"
    assert on["queues"][0]["active_set"] is not None
    inproc.farm.printers["p1"].printer.resume()
    runs = await wait_for_runs(inproc, 1, timeout=10)
    assert [r["result"] for r in runs] == ["success"]
    assert markers(inproc, "p1") == ["HELD"]
