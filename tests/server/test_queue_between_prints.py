"""Between prints and around them, as Continuous Print behaves: bed cooldown before the next copy,
bounded start attempts, and every status text the plugin shows at the moment it shows it. Over real
ptys to simulated printers (with heating and cooling taking time where it matters)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import InProcess
from conftest import in_process
from server_helpers import CP, NO_HOOKS
from test_queue_printing import get, make_job, markers, post, wait_for_runs, write_file

pytestmark = pytest.mark.timeout(40)


class Statuses:
    """Polls state/get in the background and keeps every (status, statusType) seen, in order."""

    def __init__(self, farm: InProcess) -> None:
        self.farm = farm
        self.seen: list[tuple[str, str]] = []
        self._task = asyncio.create_task(self._poll())
        self._task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _poll(self) -> None:
        while True:
            state = await get(self.farm, "state/get")
            pair = (state["status"], state["statusType"])
            if not self.seen or self.seen[-1] != pair:
                self.seen.append(pair)
            await asyncio.sleep(0.02)

    async def until(self, status: str, timeout: float = 10, since: int = 0) -> None:
        """Until ``status`` shows (at or after the ``since``-th status seen)."""
        deadline = time.monotonic() + timeout
        while not any(s == status for s, _ in self.seen[since:]):
            assert time.monotonic() < deadline, f"never saw {status!r}; saw {self.seen}"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def test_the_next_copy_starts_only_once_the_bed_is_below_the_threshold(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data", "p1", time_scale=0.1) as farm:
        (farm.uploads / "hot.gcode").write_text("M190 S60\nM117 COPY\nG1 X20 F6000\nM140 S0\n")
        automation = json.loads(NO_HOOKS) | {"settings": {"bed_cooldown_enabled": True,
                                                         "bed_cooldown_threshold": 40, "bed_cooldown_timeout": 5}}
        await post(farm, "automation/edit", {"json": json.dumps(automation)})
        assert (await get(farm, "automation/get"))["settings"]["bed_cooldown_threshold"] == 40
        await make_job(farm, [("hot.gcode", 2)], count=1)
        statuses = Statuses(farm)
        await post(farm, "set_active", {"active": True})
        await wait_for_runs(farm, 2, timeout=20)
        await statuses.stop()

        entry = farm.farm.printers["p1"]
        assert entry.sim is not None
        copies = [e.at for e in entry.sim.executed if e.command == "M117 COPY"]
        bed_off = [e.at for e in entry.sim.executed if e.command.startswith("M140 S0")]
        assert len(copies) == 2
        wall = time.time() - time.monotonic()  # history is on the wall clock, the simulator on the monotonic one
        readings = [(at - wall, t.get("B").actual) for at, t in entry.printer.temperature_history if t.get("B")]
        hot_after_first = [b for at, b in readings if bed_off[0] < at < copies[1]]
        assert max(hot_after_first) >= 45, "the bed was never hot after the first copy: nothing to wait for"
        # the second copy's M190 heats again, so look at what the host saw before that copy was started
        before_second = [b for at, b in readings if at < copies[1]]
        start_second = next(e.at for e in entry.sim.executed if e.command == "M190 S60" and e.at > bed_off[0])
        last_seen = [b for at, b in readings if at <= start_second]
        assert last_seen[-1] < 40, f"the next copy started with the bed at {last_seen[-1]} °C"
        assert before_second
        assert ("Cooling down", "NORMAL") in statuses.seen
        seen = [s for s, _ in statuses.seen]
        assert seen.index("Cooling down") < len(seen) - 1 - seen[::-1].index("Printing")  # then it printed again


async def test_three_failed_starts_stop_the_queue_and_the_copy_stays_owed(inproc: InProcess) -> None:
    inproc.farm.printers["p1"].driver.start_retry_delay = 0.3
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    job_id = await make_job(inproc, [("ghost.gcode", 1)], count=1)  # never uploaded
    statuses = Statuses(inproc)
    await post(inproc, "set_active", {"active": True})
    await statuses.until("Failed to start; too many attempts")
    await statuses.stop()

    assert [p for p in statuses.seen if p[0].startswith(("Start attempt", "Failed"))] == [
        ("Start attempt failed (1/3)", "ERROR"), ("Start attempt failed (2/3)", "ERROR"),
        ("Failed to start; too many attempts", "ERROR")]
    state = await get(inproc, "state/get")
    assert state["active"] is False and state["status"] == "Failed to start; too many attempts"
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["remaining"] == 1 and job["sets"][0]["remaining"] == 1 and job["acquired"] is False
    assert await get(inproc, "history/get") == []  # nothing printed, nothing recorded as printed
    await asyncio.sleep(0.5)
    assert (await get(inproc, "state/get"))["status"] == "Failed to start; too many attempts"  # no 4th attempt

    write_file(inproc, "ghost.gcode", "GHOST")  # the operator fixes it and starts again
    await post(inproc, "set_active", {"active": True})
    runs = await wait_for_runs(inproc, 1, timeout=10)
    assert [r["result"] for r in runs] == ["success"] and markers(inproc, "p1") == ["GHOST"]


async def test_a_cancel_from_the_printers_screen_is_recorded_as_cancelled(inproc: InProcess) -> None:
    (inproc.uploads / "long.gcode").write_text("M117 LONG\nG1 X10 F6000\n@pause\nG1 X20 F6000\n")
    await post(inproc, "automation/edit", {"json": NO_HOOKS})
    job_id = await make_job(inproc, [("long.gcode", 2)], count=1)
    await post(inproc, "set_active", {"active": True})
    entry = inproc.farm.printers["p1"]
    assert entry.sim is not None
    deadline = time.monotonic() + 10
    while entry.printer.state.name != "PAUSED":  # held mid-file, so the cancel surely lands in this print
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    entry.sim.action("cancel")  # "Stop print" on the printer's own screen
    runs = await wait_for_runs(inproc, 1, timeout=10)
    assert [r["result"] for r in runs] == ["cancelled"]
    state = await get(inproc, "state/get")
    job = next(j for j in state["queues"][0]["jobs"] if j["id"] == job_id)
    assert job["sets"][0]["remaining"] == 2 and job["sets"][0]["completed"] == 0  # still owed, not a success
    assert state["active"] is False and "cancelled" in state["status"]


async def test_each_status_continuous_print_shows_appears_at_its_moment(inproc: InProcess) -> None:
    """With the default Bed Clearing and Finished scripts (``@pause``) a person resumes after each."""
    statuses = Statuses(inproc)
    await statuses.until("Inactive (click Start Managing)")
    await post(inproc, "set_active", {"active": True})
    await statuses.until("Idle (awaiting printable Job)")

    moves = "".join(f"G1 X{10 + i % 50} Y{10 + i % 40} F6000\n" for i in range(1500))  # long enough to be seen
    (inproc.uploads / "held.gcode").write_text(f"M117 HELD\n{moves}@pause\nG1 X10 F6000\n")
    await make_job(inproc, [("held.gcode", 1)], count=1)
    printer = inproc.farm.printers["p1"].printer
    for status in ("Paused", "Clearing bed", "Finishing up"):
        await statuses.until(status)
        await asyncio.sleep(0.05)
        printer.resume()
    await statuses.until("Idle (awaiting printable Job)", since=len(statuses.seen))
    seen = [s for s, _ in statuses.seen]
    order = ["Inactive (click Start Managing)", "Idle (awaiting printable Job)", "Printing", "Paused", "Printing",
             "Clearing bed", "Finishing up", "Idle (awaiting printable Job)"]
    assert [s for s in seen if s in order] == order, seen
    assert dict(statuses.seen)["Paused"] == "NEEDS_ACTION" and dict(statuses.seen)["Printing"] == "NORMAL"

    await post(inproc, "set_active", {"active": False})
    write_file(inproc, "mine.gcode", "MINE", moves=2000)  # a print of the operator's own, queue inactive
    response = await inproc.client.post("/api/files/local/mine.gcode", headers=inproc.headers,
                                        json={"command": "select", "print": True})
    assert response.status == 204, await response.text()
    statuses.seen.clear()
    await statuses.until("Inactive (active print continues unmanaged)")
    assert ("Inactive (active print continues unmanaged)", "NEEDS_ACTION") in statuses.seen
    await statuses.stop()


async def test_continuous_prints_settings_through_octoprints_settings_api(inproc: InProcess) -> None:
    """The plugin's settings page saves bed cooldown and the printer profile through /api/settings."""
    response = await inproc.client.post("/api/settings", headers=inproc.headers, json={"plugins": {"continuousprint": {
        "bed_cooldown_enabled": True, "bed_cooldown_threshold": 35, "cp_printer_profile": "Prusa i3 MK3S"}}})
    assert response.status == 200, await response.text()
    shown = (await response.json())["plugins"]["continuousprint"]
    assert shown == {"cp_printer_profile": "Prusa i3 MK3S", "bed_cooldown_enabled": True,
                     "bed_cooldown_threshold": 35.0, "bed_cooldown_timeout": 60.0}
    assert (await get(inproc, "automation/get"))["settings"]["bed_cooldown_threshold"] == 35.0
    assert (await get(inproc, "state/get"))["profile"] == "Prusa i3 MK3S"
    response = await inproc.client.post("/api/settings", headers=inproc.headers,
                                        json={"plugins": {"continuousprint": {"bed_cooldown_threshold": "warm"}}})
    assert response.status == 400 and "error" in await response.json()
    assert (await get(inproc, "automation/get"))["settings"]["bed_cooldown_threshold"] == 35.0
