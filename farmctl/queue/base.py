"""What every part of the queue model shares: the store, the clock, and lookups that 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.store import JobRecord, QueueRecord, Store, Tx


class ModelBase:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        # state/get's queues, per printer, valid while the database's change marker is unchanged
        self._queue_state_cache: tuple[tuple[tuple[int, int], frozenset[str]] | None,
                                       dict[str | None, list[dict[str, Any]]]] = (None, {})

    @property
    def store(self) -> Store:
        return self._store

    @staticmethod
    async def _queue(tx: Tx, name: str) -> QueueRecord:
        queue = await tx.queue(name)
        if queue is None:
            raise FarmctlError(f"no queue named {name!r}", status=404)
        return queue

    @staticmethod
    async def _job(tx: Tx, job_id: int) -> JobRecord:
        job = await tx.job(job_id)
        if job is None:
            raise FarmctlError(f"no job with id {job_id}", status=404)
        return job

    @staticmethod
    async def _end_rank(tx: Tx, queue_id: int) -> float:
        ranks = await tx.job_ranks(queue_id)
        return ranks[-1][1] + 1.0 if ranks else 1.0
