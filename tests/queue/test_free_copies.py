"""The free copies a claim takes, on both backends: each set keeps exactly max(0, remaining - open
runs) of them through every change the queue makes, and an older database gets them when migrated."""

from __future__ import annotations

import pytest
from databases import Database, execute, query
from queue_helpers import Clock, make_job

from farmctl.errors import FarmctlError
from farmctl.queue import QueueModel
from farmctl.store import LATEST_VERSION, RunResult, Store


async def _balance(database: Database) -> dict[int, tuple[int, int]]:
    """Per set: (free copy rows, what remaining and open runs say is free)."""
    rows = await query(database, """
        SELECT s.id, (SELECT COUNT(*) FROM copies c WHERE c.set_id = s.id),
               s.remaining - (SELECT COUNT(*) FROM runs r WHERE r.set_id = s.id AND r.result IS NULL)
        FROM sets s ORDER BY s.id""")
    return {set_id: (int(free), max(0, int(owed))) for set_id, free, owed in rows}


async def _assert_balanced(database: Database, step: str) -> None:
    for set_id, (free, owed) in (await _balance(database)).items():
        assert free == owed, f"after {step}: set {set_id} has {free} free copies, but owes {owed} unclaimed"


async def test_every_change_keeps_each_sets_free_copies_exact(model: QueueModel, database: Database) -> None:
    job_id = await make_job(model, [("A", 3), ("B", 2)], count=2)
    await _assert_balanced(database, "adding the job")
    assert [free for free, _ in (await _balance(database)).values()] == [3, 2]

    first = await model.counting.claim("p1")
    second = await model.counting.claim("p2")
    third = await model.counting.claim("p3")
    assert [c.set.path for c in (first, second, third)] == ["A", "A", "A"]
    await _assert_balanced(database, "three claims")
    assert (await model.jobs.get_job(job_id)).acquired_by == "p3", "the latest open run holds the job"

    await model.counting.finish_run(first.run.id, RunResult.SUCCESS)
    await _assert_balanced(database, "a success")
    await model.counting.finish_run(second.run.id, RunResult.CANCELLED)
    await _assert_balanced(database, "a cancel (its copy is owed again)")
    await model.counting.withdraw(third.run.id)
    await _assert_balanced(database, "a withdrawn claim")
    assert (await model.jobs.get_job(job_id)).acquired_by is None

    held = await model.counting.claim("p1")
    job = await model.jobs.get_job(job_id)
    a, b = job.sets
    await model.jobs.edit_job({"id": job_id, "sets": [{"id": a.id, "path": "A", "count": 3, "remaining": 0},
                                                       {"id": b.id, "path": "B", "count": 2}]})
    await _assert_balanced(database, "remaining edited below the open runs")
    assert (await model.counting.claim("p2")).set.path == "B"
    await model.jobs.edit_job({"id": job_id, "sets": [{"id": a.id, "path": "A", "count": 3, "remaining": 3}]})
    await _assert_balanced(database, "a set deleted and another raised")

    await model.jobs.reset_jobs("local", [job_id])
    await _assert_balanced(database, "a reset")
    await model.counting.recover_after_crash()
    await _assert_balanced(database, "a restart that aborts the open runs")
    results = {r.id: r.result for r in await model.settings.get_history()}
    assert results[held.run.id] is RunResult.ABORTED
    await model.counting.settle_aborted_run(held.run.id, RunResult.SUCCESS)
    await _assert_balanced(database, "an aborted run settled as a success")

    while (claim := await model.counting.claim("p1")) is not None:
        await model.counting.finish_run(claim.run.id, RunResult.FAILURE)
        await _assert_balanced(database, "a failure")
    job = await model.jobs.get_job(job_id)
    assert job.remaining == 0 and sum(free for free, _ in (await _balance(database)).values()) == 0


async def test_removing_a_job_takes_its_free_copies_with_it(model: QueueModel, database: Database) -> None:
    job_id = await make_job(model, [("A", 4)])
    await model.jobs.move_job(job_id, None, "local", "LAN")
    await model.jobs.remove_jobs("LAN", [job_id])  # outside the local queue a removed job is deleted
    assert await query(database, "SELECT COUNT(*) FROM copies") == [(0,)]


async def test_migrating_an_older_queue_gives_each_set_its_free_copies(database: Database) -> None:
    store = await Store.open(database)
    model = QueueModel.over(store, clock=Clock())
    await make_job(model, [("A", 3), ("B", 1)], count=2)
    await make_job(model, [("C", 2)])
    claim = await model.counting.claim("p1")
    await store.close()
    # The queue as schema version 12 kept it: no copy rows, the holder written on the job.
    for statement in ("DROP TABLE copies", "DROP INDEX runs_open_job", "ALTER TABLE jobs ADD COLUMN acquired_by TEXT",
                      "UPDATE schema_version SET version = 12"):
        await execute(database, statement)

    store = await Store.open(database)
    try:
        assert store.schema_version == LATEST_VERSION
        await _assert_balanced(database, "the migration")
        assert [free for free, _ in (await _balance(database)).values()] == [2, 1, 2]
        model = QueueModel.over(store, clock=Clock())
        assert (await model.jobs.get_job(claim.job.id)).acquired_by == "p1"
        printed = [claim.set.path]
        await model.counting.finish_run(claim.run.id, RunResult.SUCCESS)
        while (claim := await model.counting.claim("p1")) is not None:
            printed.append(claim.set.path)
            await model.counting.finish_run(claim.run.id, RunResult.SUCCESS)
        assert printed == ["A", "A", "A", "B", "A", "A", "A", "B", "C", "C"]
    finally:
        await store.close()


async def test_a_set_owes_at_most_ten_thousand_copies(model: QueueModel, database: Database) -> None:
    with pytest.raises(FarmctlError, match="count must be at most 10000, not 10001"):
        await model.jobs.add_set({"path": "A", "count": 10_001})
    job_id = await make_job(model, [("A", 10_000)])
    a = (await model.jobs.get_job(job_id)).sets[0]
    with pytest.raises(FarmctlError, match="remaining must be at most 10000"):
        await model.jobs.edit_job({"id": job_id, "sets": [{"id": a.id, "path": "A", "remaining": 10**12}]})
    assert await query(database, "SELECT COUNT(*) FROM copies") == [(10_000,)]
    assert await query(database, "SELECT COUNT(*) FROM jobs") == [(1,)], "the refused set added no job"
