"""The whole queue as state/get shows it: every queue but the archive, its jobs, and the open runs.

Clients poll this, and with thousands of jobs reading it costs far more than the query that tells
whether anything changed, so one snapshot is kept until the database's change marker moves (this
connection's writes or another process's). A snapshot is immutable and compared by identity, so
whoever builds something from it (the HTTP layer's JSON) can keep that as long as the snapshot lives.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.queue.db import QueueDb
from farmctl.store import ARCHIVE_QUEUE, JobRecord, QueueRecord, RunRecord


@dataclass(frozen=True, slots=True)
class QueueContents:
    queue: QueueRecord
    jobs: tuple[JobRecord, ...]


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class QueueSnapshot:
    queues: tuple[QueueContents, ...]
    open_runs: tuple[RunRecord, ...]

    def active_set(self, printer: str | None, queue: str) -> int | None:
        """The set ``printer`` prints now from ``queue`` (None when it prints none from there)."""
        if printer is None:
            return None
        return next((r.set_id for r in self.open_runs if r.printer == printer and r.queue_name == queue), None)

    @property
    def local_paths(self) -> frozenset[str]:
        """Every file a set names on the host (not on a printer's SD card)."""
        return frozenset(s.path for q in self.queues for j in q.jobs for s in j.sets if not s.sd)


class QueueState:
    def __init__(self, db: QueueDb) -> None:
        self._db = db
        self._cached: tuple[tuple[int, int], QueueSnapshot] | None = None

    async def snapshot(self) -> QueueSnapshot:
        """The queue now; the same object again while nothing changed."""
        async with self._db.read() as tx:
            marker = await tx.change_marker()
            if self._cached is not None and self._cached[0] == marker:
                return self._cached[1]
            queues = [QueueContents(q, tuple(await tx.jobs.in_queue(q.id)))
                      for q in await tx.queues.all() if q.name != ARCHIVE_QUEUE]
            snapshot = QueueSnapshot(tuple(queues), tuple(await tx.runs.open()))
        self._cached = (marker, snapshot)
        return snapshot
