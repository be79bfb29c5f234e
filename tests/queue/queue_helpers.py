"""Shared helpers for the queue tests (real SQLite files, a stepping clock)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from farmctl.queue import QueueModel


class Clock:
    """A clock that moves one second per reading, so runs get distinct, ordered times."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def dump(path: Path) -> list[str]:
    """Every committed row of the file, for checking that a refused request changed nothing."""
    with sqlite3.connect(path) as raw:
        return list(raw.iterdump())


async def make_job(model: QueueModel, sets: list[tuple[str, int]], count: int = 1, **extra: Any) -> int:
    """A non-draft job in local with the given (path, count) sets."""
    job_id = None
    for path, set_count in sets:
        added = await model.jobs.add_set({"path": path, "count": set_count}, job=job_id, job_name="j")
        job_id = added.job_id
    assert job_id is not None
    await model.jobs.edit_job({"id": job_id, "count": count, "remaining": count, "draft": False, **extra})
    return job_id


async def print_all(model: QueueModel, printer: str = "p1", profile: str | None = None,
                    result: str = "success", limit: int = 100) -> list[str]:
    """Claim and finish until nothing is left; the paths in print order."""
    order = []
    for _ in range(limit):
        claim = await model.counting.claim(printer, profile)
        if claim is None:
            return order
        order.append(claim.set.path)
        await model.counting.finish_run(claim.run.id, result)
    raise AssertionError("still claiming after limit")
