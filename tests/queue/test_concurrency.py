"""Two printers, two connections, one file: no copy is ever printed twice."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from queue_helpers import Clock, make_job

from farmctl.queue import QueueModel
from farmctl.store import RunResult, Store


def _assert_no_overbooking(path: Path) -> None:
    """No set has more open runs (reserved copies) than copies it still owes."""
    with sqlite3.connect(path) as raw:
        rows = raw.execute(
            """SELECT s.id, s.remaining, COUNT(r.id) FROM sets s
               JOIN runs r ON r.set_id = s.id AND r.result IS NULL GROUP BY s.id"""
        ).fetchall()
    for set_id, remaining, reserved in rows:
        assert reserved <= remaining, f"set {set_id}: {reserved} claims for {remaining} copies"


async def _printer(model: QueueModel, name: str, path: Path, seed: int, done: asyncio.Event) -> list[str]:
    rng = random.Random(seed)
    printed = []
    while not done.is_set():
        claim = await model.counting.claim(name)
        if claim is None:
            await asyncio.sleep(0.002)
            continue
        _assert_no_overbooking(path)
        await asyncio.sleep(rng.uniform(0, 0.01))
        printed.append(claim.set.path)
        await model.counting.finish_run(claim.run.id, RunResult.SUCCESS)
        job = await model.jobs.get_job(claim.job.id)
        if job.remaining == 0:
            done.set()
    return printed


async def test_two_connections_finish_six_copies_without_duplicates(model: QueueModel, db_path: Path) -> None:
    job_id = await make_job(model, [("A", 2), ("B", 1)], count=2)  # 6 copies: A A B, A A B
    other = await Store.open(db_path)
    try:
        second = QueueModel.over(other, clock=Clock())
        done = asyncio.Event()
        a, b = await asyncio.wait_for(
            asyncio.gather(
                _printer(model, "p1", db_path, 1, done), _printer(second, "p2", db_path, 2, done)
            ),
            timeout=20,
        )
    finally:
        await other.close()
    assert sorted(a + b) == sorted("AABAAB")
    assert a and b, "both printers should have printed"
    history = await model.settings.get_history()
    assert len(history) == 6 and all(r.result is RunResult.SUCCESS for r in history)
    job = await model.jobs.get_job(job_id)
    assert job.remaining == 0 and job.acquired_by is None
    assert await model.counting.claim("p1") is None


async def test_concurrent_claims_never_share_the_last_copy(model: QueueModel, db_path: Path) -> None:
    await make_job(model, [("only", 1)])
    stores = [await Store.open(db_path) for _ in range(4)]
    try:
        models = [QueueModel.over(s, clock=Clock()) for s in stores]
        claims = await asyncio.gather(*(m.counting.claim(f"p{i}") for i, m in enumerate(models)))
    finally:
        for s in stores:
            await s.close()
    assert sum(c is not None for c in claims) == 1
