"""Jobs and sets: adding, editing, moving, removing and resetting them.

Every operation validates all of its input first and then writes in one transaction, so a bad
request changes nothing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb, end_rank, job_of, queue_named
from farmctl.queue.validate import (
    as_bool,
    as_id,
    as_id_list,
    as_int,
    as_optional_id,
    as_set_fields,
    as_str,
)
from farmctl.store import ARCHIVE_QUEUE, LOCAL_QUEUE, JobRecord, SetFields, SetRecord, Tx


@dataclass(frozen=True, slots=True)
class AddedSet:
    job_id: int
    set: SetRecord


def _job_counts(count: int, remaining: int) -> None:
    if remaining > count:
        raise FarmctlError(f"a job's remaining ({remaining}) may not exceed its count ({count})")


class Jobs:
    """Continuous Print's job and set operations."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def get_job(self, job_id: Any) -> JobRecord:
        async with self._db.read() as tx:
            return await job_of(tx, as_id(job_id, "job id"))

    async def list_jobs(self, queue: str = LOCAL_QUEUE) -> list[JobRecord]:
        async with self._db.read() as tx:
            return await tx.jobs.in_queue((await queue_named(tx, queue)).id)

    async def jobs_named(self, name: str) -> list[JobRecord]:
        """Jobs of this name in any queue (one read of those rows, not the whole queue)."""
        async with self._db.read() as tx:
            return await tx.jobs.named(name)

    async def _insert_job(self, tx: Tx, queue: str, name: str, draft: bool) -> int:
        q = await queue_named(tx, queue)
        return await tx.jobs.insert(
            q.id, name, await end_rank(tx, q.id), count=1, remaining=1,
            created=int(self._db.clock()), draft=draft,
        )

    async def add_job(self, name: Any, queue: str = LOCAL_QUEUE) -> JobRecord:
        """job/add: a new, empty draft at the end of the queue."""
        job_name = as_str(name, "name", allow_empty=True)
        async with self._db.write() as tx:
            return await job_of(tx, await self._insert_job(tx, queue, job_name, draft=True))

    async def add_set(
        self,
        data: Mapping[str, Any],
        *,
        job: Any = None,
        job_name: Any = None,
        job_draft: Any = True,
        queue: str = LOCAL_QUEUE,
    ) -> AddedSet:
        """set/add: append a set to ``job``, or to a new job when ``job`` is absent or unknown."""
        fields = as_set_fields(data)
        job_id = as_optional_id(job, "job")
        name = as_str(job_name, "jobName", allow_empty=True) if job_name is not None else ""
        draft = as_bool(job_draft, "jobDraft")
        async with self._db.write() as tx:
            if job_id is None or await tx.jobs.get(job_id) is None:
                name = name or posixpath.splitext(posixpath.basename(fields.path))[0]
                job_id = await self._insert_job(tx, queue, name, draft)
            top = await tx.sets.max_rank(job_id)
            set_id = await tx.sets.insert(job_id, 1.0 if top is None else top + 1.0, fields)
            added = await tx.sets.get(set_id)
        assert added is not None
        return AddedSet(job_id, added)

    async def edit_job(self, data: Mapping[str, Any]) -> JobRecord:
        """job/edit: change the fields given; with ``sets``, those sets in that order, the rest deleted."""
        job_id = as_id(data.get("id"), "id")
        async with self._db.write() as tx:
            job = await job_of(tx, job_id)
            if "queue" in data and data["queue"] != job.queue:
                raise FarmctlError(f"job {job_id} is in queue {job.queue!r}; use job/mv to move it")
            changes: dict[str, Any] = {}
            if "name" in data:
                changes["name"] = as_str(data["name"], "name", allow_empty=True)
            count = as_int(data.get("count", job.count), "count", minimum=1)
            remaining = as_int(data.get("remaining", job.remaining), "remaining", minimum=0)
            _job_counts(count, remaining)
            changes.update(count=count, remaining=remaining)
            if "draft" in data:
                changes["draft"] = as_bool(data["draft"], "draft")
            new_sets = None if "sets" not in data else self._parse_sets(data["sets"], job)
            await tx.jobs.update(job_id, **changes)
            if new_sets is not None:
                await _replace_sets(tx, job, new_sets)
            return await job_of(tx, job_id)

    @staticmethod
    def _parse_sets(items: Any, job: JobRecord) -> list[tuple[int | None, SetFields]]:
        if not isinstance(items, (list, tuple)):
            raise FarmctlError(f"sets must be a list, not {items!r}")
        current = {s.id: s for s in job.sets}
        parsed: list[tuple[int | None, SetFields]] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise FarmctlError(f"each set must be an object, not {item!r}")
            set_id = as_optional_id(item.get("id"), "set id")
            if set_id is not None and set_id not in current:
                raise FarmctlError(f"set {set_id} is not part of job {job.id}")
            if set_id is not None and any(set_id == seen for seen, _ in parsed):
                raise FarmctlError(f"set {set_id} is listed twice")
            parsed.append((set_id, as_set_fields(item, current.get(set_id) if set_id else None)))
        return parsed

    async def move_job(self, job_id: Any, after_id: Any, src_queue: str, dest_queue: str | None = None) -> None:
        """job/mv: place the job right after ``after_id`` (None = front) in ``dest_queue``."""
        jid = as_id(job_id, "id")
        after = as_optional_id(after_id, "after_id")
        if after == jid:
            raise FarmctlError("a job cannot be moved after itself")
        async with self._db.write() as tx:
            src = await queue_named(tx, src_queue)
            dest = await queue_named(tx, dest_queue or src_queue)
            job = await job_of(tx, jid)
            if job.queue != src.name:
                raise FarmctlError(f"job {jid} is not in queue {src.name!r}", status=404)
            order = [i for i, _ in await tx.jobs.ranks(dest.id) if i != jid]
            ranks = dict(await tx.jobs.ranks(dest.id))
            if after is not None and after not in ranks:
                raise FarmctlError(f"job {after} is not in queue {dest.name!r}", status=404)
            pos = 0 if after is None else order.index(after) + 1
            prev = ranks[order[pos - 1]] if pos > 0 else None
            nxt = ranks[order[pos]] if pos < len(order) else None
            rank = _between(prev, nxt)
            if rank is None:  # floats exhausted between neighbours: renumber the whole queue
                order.insert(pos, jid)
                for n, other in enumerate(order, start=1):
                    if other != jid:
                        await tx.jobs.update(other, rank=float(n))
                rank = float(pos + 1)
            await tx.jobs.update(jid, queue_id=dest.id, rank=rank, archived=dest.name == ARCHIVE_QUEUE)

    async def remove_jobs(self, queue: str, job_ids: Any) -> int:
        """job/rm: jobs in the local queue go to the archive; elsewhere they are deleted."""
        ids = as_id_list(job_ids)
        async with self._db.write() as tx:
            q = await queue_named(tx, queue)
            await self._jobs_in_queue(tx, ids, q.name)
            archive = await queue_named(tx, ARCHIVE_QUEUE)
            for jid in ids:
                if q.name == LOCAL_QUEUE:
                    rank = await end_rank(tx, archive.id)
                    await tx.jobs.update(jid, queue_id=archive.id, rank=rank, archived=True)
                else:
                    await tx.jobs.delete(jid)
        return len(ids)

    async def reset_jobs(self, queue: str, job_ids: Any) -> int:
        """job/reset: every copy of the job is owed again."""
        ids = as_id_list(job_ids)
        async with self._db.write() as tx:
            q = await queue_named(tx, queue)
            for job in await self._jobs_in_queue(tx, ids, q.name):
                await tx.jobs.update(job.id, remaining=job.count)
                await tx.sets.refill(job.id)
        return len(ids)

    async def _jobs_in_queue(self, tx: Tx, ids: Sequence[int], queue: str) -> list[JobRecord]:
        if len(set(ids)) != len(ids):
            raise FarmctlError("job_ids lists a job twice")
        jobs = [await job_of(tx, jid) for jid in ids]
        for job in jobs:
            if job.queue != queue:
                raise FarmctlError(f"job {job.id} is not in queue {queue!r}", status=404)
        return jobs


def _between(prev: float | None, nxt: float | None) -> float | None:
    """The midpoint rank between neighbours, or None when no float lies strictly between them."""
    if prev is None and nxt is None:
        return 1.0
    if prev is None:
        assert nxt is not None
        return nxt - 1.0
    if nxt is None:
        return prev + 1.0
    mid = (prev + nxt) / 2
    return mid if prev < mid < nxt else None


async def _replace_sets(tx: Tx, job: JobRecord, new_sets: list[tuple[int | None, SetFields]]) -> None:
    kept = {set_id for set_id, _ in new_sets if set_id is not None}
    for old in job.sets:
        if old.id not in kept:
            await tx.sets.delete(old.id)
    for rank, (set_id, fields) in enumerate(new_sets, start=1):
        if set_id is None:
            await tx.sets.insert(job.id, float(rank), fields)
        else:
            await tx.sets.replace(set_id, float(rank), fields)
