"""What every part of the queue shares: the store, the clock, lookups that 404, and the one place
a change to the queue is announced.

Every write of the queue goes through ``QueueDb.write()``; when its transaction committed and
changed a row, every listener hears of it (the farm wakes its drivers and tells the push channel).
So no caller has to remember to announce a change, and a write that changed nothing (a claim
that found no copy) wakes nobody.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from farmctl.errors import FarmctlError
from farmctl.store import JobRecord, QueueRecord, Store, Tx

log = logging.getLogger(__name__)

Listener = Callable[[], None]


class QueueDb:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time, node: str | None = None) -> None:
        self.store = store
        self.clock = clock
        self.node = node
        """The farmctl node this process is, recorded on every run it claims."""
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call ``listener()`` after every committed change to the queue's tables."""
        self._listeners.append(listener)

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A consistent snapshot to read from (no write lock)."""
        return self.store.transaction(write=False)

    def write(self) -> AbstractAsyncContextManager[Tx]:
        """One unit of change: committed as a whole, then announced if it changed anything."""
        return self._change(lock_database=True)

    def claim(self) -> AbstractAsyncContextManager[Tx]:
        """A claim of a copy: as ``write()``, but on PostgreSQL it locks only the rows it takes."""
        return self._change(lock_database=False)

    @asynccontextmanager
    async def _change(self, lock_database: bool) -> AsyncIterator[Tx]:
        async with self.store.transaction(lock_database=lock_database) as tx:
            yield tx
            wrote = tx.wrote
        if wrote:
            self.announce()

    def announce(self) -> None:
        """Tell every listener the queue changed (after a commit)."""
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a broken listener must not undo or fail a committed change
                log.exception("a queue change listener failed")


async def queue_named(tx: Tx, name: str) -> QueueRecord:
    queue = await tx.queues.named(name)
    if queue is None:
        raise FarmctlError(f"no queue named {name!r}", status=404)
    return queue


async def job_of(tx: Tx, job_id: int) -> JobRecord:
    job = await tx.jobs.get(job_id)
    if job is None:
        raise FarmctlError(f"no job with id {job_id}", status=404)
    return job


async def end_rank(tx: Tx, queue_id: int) -> float:
    ranks = await tx.jobs.ranks(queue_id)
    return ranks[-1][1] + 1.0 if ranks else 1.0
