"""The forecast replays the claims the drivers will make, over jobs read from a real SQLite file."""

from __future__ import annotations

from queue_helpers import make_job

from farmctl.queue import QueueModel
from farmctl.queue.forecast import Lane, plan
from farmctl.store import LOCAL_QUEUE, JobRecord, SetRecord

NOW = 1_000_000.0


async def printable(model: QueueModel):
    async with model.db.read() as tx:
        return await tx.jobs.printable([LOCAL_QUEUE])


async def test_two_set_job_count_two_on_two_printers(model: QueueModel) -> None:
    job = await make_job(model, [("a.gcode", 1), ("b.gcode", 1)], count=2)
    forecast = plan(await printable(model), [Lane("p1", NOW), Lane("p2", NOW)],
                    {"a.gcode": 600.0, "b.gcode": 300.0}, NOW, changeover=60.0)
    rows = [(c.printer, c.path, c.start - NOW, c.end - NOW) for c in forecast.copies]
    # Pass 1: p1 takes a, p2 takes b. p2's plate is clear at 360, but pass 1 still owes a (on p1),
    # so p2 waits. At 600 a ends and the sets refill: p2, woken, takes a at once; p1 takes b once
    # its own plate is cleared, at 660.
    assert rows == [
        ("p1", "a.gcode", 0.0, 600.0),
        ("p2", "b.gcode", 0.0, 300.0),
        ("p2", "a.gcode", 600.0, 1200.0),
        ("p1", "b.gcode", 660.0, 960.0),
    ]
    assert all(c.job_id == job and c.estimated for c in forecast.copies)
    assert forecast.finish == NOW + 1200.0 and not forecast.truncated and forecast.unplaced == ()


async def test_a_running_copy_ends_as_its_progress_says_then_the_queue_goes_on(model: QueueModel) -> None:
    await make_job(model, [("a.gcode", 3)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    lanes = [Lane("p1", NOW + 120.0, running_set=claim.set.id), Lane("p2", NOW + 1000.0)]
    forecast = plan(await printable(model), lanes, {"a.gcode": 500.0}, NOW, running_since={"p1": NOW - 380.0})
    rows = [(c.printer, c.start - NOW, c.end - NOW, c.running) for c in forecast.copies]
    assert rows == [("p1", -380.0, 120.0, True), ("p1", 120.0, 620.0, False), ("p1", 620.0, 1120.0, False)]


async def test_profiles_route_sets_and_an_unprintable_set_is_reported(model: QueueModel) -> None:
    await make_job(model, [("mk3.gcode", 2)], profiles=None)
    added = await model.jobs.add_set({"path": "mk3.gcode", "count": 2, "profiles": ["prusa-mk3"]}, job_name="mk3")
    await model.jobs.edit_job({"id": added.job_id, "draft": False})
    other = await model.jobs.add_set({"path": "ender.gcode", "count": 1, "profiles": ["ender3"]}, job_name="ender")
    await model.jobs.edit_job({"id": other.job_id, "draft": False})
    draft = await model.jobs.add_set({"path": "draft.gcode", "count": 1}, job_name="draft")
    forecast = plan(await printable(model), [Lane("p1", NOW, profile="marlin2"), Lane("p2", NOW, profile="prusa-mk3")],
                    {}, NOW, unknown_duration=100.0)
    assert [c.printer for c in forecast.copies if c.path == "mk3.gcode" and c.job_id == added.job_id] == ["p2", "p2"]
    assert not any(c.estimated for c in forecast.copies)  # no analysis given: lengths are guesses
    assert forecast.unplaced == (other.set.id,)
    assert all(c.job_id != draft.job_id for c in forecast.copies)


def test_ten_thousand_jobs_stop_at_the_bound() -> None:
    """Records as the store returns them (built directly: 10,000 inserts would be most of the test)."""
    jobs = [JobRecord(n, LOCAL_QUEUE, f"j{n}", float(n), 1, 1, 0, False, None, False,
                      (SetRecord(path="a.gcode", sd=False, count=1, remaining=1, completed=0, metadata=None,
                                 materials=(), profiles=(), id=n, job_id=n, rank=1.0),)) for n in range(10_000)]
    forecast = plan(jobs, [Lane(f"p{n}", NOW) for n in range(16)], {"a.gcode": 60.0}, NOW, max_copies=2000)
    assert len(forecast.copies) == 2000 and forecast.truncated
    assert [c.job_name for c in forecast.copies[:3]] == ["j0", "j1", "j2"]
    assert forecast.copies[-1].start == NOW + 60.0 * (2000 // 16 - 1)  # 16 in parallel, one minute each
