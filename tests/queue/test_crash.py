"""Crash recovery: an interrupted print is owed exactly once; a recorded finish is never reprinted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from queue_helpers import Clock, make_job, print_all

from farmctl.errors import FarmctlError
from farmctl.queue import QueueModel
from farmctl.store import RunResult, Store

REPO = Path(__file__).resolve().parents[2]


async def _reopen(path: Path) -> tuple[Store, QueueModel]:
    store = await Store.open(path)
    return store, QueueModel.over(store, clock=Clock())


async def test_open_run_at_crash_is_aborted_and_still_owed(model: QueueModel, db_path: Path) -> None:
    job_id = await make_job(model, [("A", 1), ("B", 1)], count=2)
    claim = await model.counting.claim("p1")
    assert claim is not None and claim.set.path == "A"
    await model.store.close()  # the process dies here, mid-print

    store, after = await _reopen(db_path)
    try:
        interrupted = await after.counting.recover_after_crash()
        assert [(r.printer, r.id, r.result) for r in interrupted] == [("p1", claim.run.id, RunResult.ABORTED)]
        assert interrupted[0].end is not None
        job = await after.jobs.get_job(job_id)
        assert job.acquired_by is None and job.remaining == 2
        assert [s.remaining for s in job.sets] == [1, 1]
        assert await after.counting.recover_after_crash() == []  # nothing is aborted twice
        assert await print_all(after) == list("ABAB")
    finally:
        await store.close()


async def test_finish_recorded_before_crash_is_not_printed_again(model: QueueModel, db_path: Path) -> None:
    await make_job(model, [("A", 1), ("B", 1)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, "success")
    await model.store.close()

    store, after = await _reopen(db_path)
    try:
        assert await after.counting.recover_after_crash() == []
        assert await print_all(after) == ["B"]
    finally:
        await store.close()


_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from farmctl.store import RunResult, Store

    async def main(path, run_id, commit):
        store = await Store.open(path)
        async with store.transaction() as tx:
            run = await tx.runs.get(run_id)
            await tx.runs.close(run_id, RunResult.SUCCESS, time.time())
            item = await tx.sets.get(run.set_id)
            await tx.sets.update(item.id, remaining=item.remaining - 1, completed=item.completed + 1)
            if not commit:
                print("holding", flush=True)
                await asyncio.sleep(60)
        print("committed", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "commit"))
    """
)


async def _kill_child_after(db_path: Path, run_id: int, mode: str, line: bytes) -> None:
    """Run a writer in a subprocess and SIGKILL it once it prints ``line``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(db_path), str(run_id), mode,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), timeout=15)).strip() == line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()


async def test_sigkill_inside_a_write_transaction_loses_the_whole_change(
    model: QueueModel, db_path: Path
) -> None:
    job_id = await make_job(model, [("A", 2)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.store.close()
    await _kill_child_after(db_path, claim.run.id, "hold", b"holding")

    store, after = await _reopen(db_path)
    try:
        interrupted = await after.counting.recover_after_crash()
        assert [r.id for r in interrupted] == [claim.run.id]
        job = await after.jobs.get_job(job_id)
        assert (job.sets[0].remaining, job.sets[0].completed) == (2, 0)
        assert await print_all(after) == ["A", "A"]
    finally:
        await store.close()


async def test_sigkill_after_commit_keeps_the_finish(model: QueueModel, db_path: Path) -> None:
    job_id = await make_job(model, [("A", 2)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.store.close()
    await _kill_child_after(db_path, claim.run.id, "commit", b"committed")

    store, after = await _reopen(db_path)
    try:
        assert await after.counting.recover_after_crash() == []
        assert (await after.jobs.get_job(job_id)).sets[0].remaining == 1
        assert await print_all(after) == ["A"]
    finally:
        await store.close()


async def test_a_person_can_settle_an_interrupted_print_as_done(model: QueueModel, db_path: Path) -> None:
    job_id = await make_job(model, [("A", 2)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.store.close()

    store, after = await _reopen(db_path)
    try:
        (aborted,) = await after.counting.recover_after_crash()
        settled = await after.counting.settle_aborted_run(aborted.id, "success")
        assert settled.result is RunResult.SUCCESS and settled.end == aborted.end
        assert (await after.jobs.get_job(job_id)).sets[0].remaining == 1
        with pytest.raises(FarmctlError) as err:
            await after.counting.settle_aborted_run(aborted.id, "success")
        assert err.value.status == 409
        assert await print_all(after) == ["A"]
    finally:
        await store.close()
