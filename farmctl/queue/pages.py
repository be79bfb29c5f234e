"""What the dashboard's queue view needs beyond Continuous Print's calls: a queue a page at a
time, and a whole new job (its sets, count and draft flag) written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb, end_rank, job_of, queue_named
from farmctl.queue.validate import as_bool, as_int, as_set_fields, as_str
from farmctl.store import LOCAL_QUEUE, JobRecord


class Pages:
    """``model.pages``."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def job_page(self, queue: str = LOCAL_QUEUE, limit: int = 100, offset: int = 0) -> tuple[int, list[JobRecord]]:
        """(how many jobs the queue holds, the jobs at ``offset``..``offset + limit`` in order)."""
        async with self._db.read() as tx:
            q = await queue_named(tx, queue)
            return await tx.jobs.count_in(q.id), await tx.jobs.page(q.id, limit, offset)

    async def create_job(self, data: Mapping[str, Any], queue: str = LOCAL_QUEUE) -> JobRecord:
        """A job with ``name``, ``count`` (copies of the whole job), ``draft`` and ``sets``, all checked
        before anything is written."""
        name = as_str(data.get("name", ""), "name", allow_empty=True)
        count = as_int(data.get("count", 1), "count", minimum=1)
        draft = as_bool(data.get("draft", True), "draft")
        items = data.get("sets", [])
        if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
            raise FarmctlError("sets must be a list of objects")
        sets = [as_set_fields(item) for item in items]
        async with self._db.write() as tx:
            q = await queue_named(tx, queue)
            job_id = await tx.jobs.insert(q.id, name, await end_rank(tx, q.id), count=count, remaining=count,
                                          created=int(self._db.clock()), draft=draft)
            for rank, fields in enumerate(sets, start=1):
                await tx.sets.insert(job_id, float(rank), fields)
            return await job_of(tx, job_id)
