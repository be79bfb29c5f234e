"""What the dashboard's queue view needs beyond Continuous Print's calls: a queue a page at a
time, and a whole new job (its sets, count and draft flag) written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.base import ModelBase
from farmctl.queue.jobs import SetFields
from farmctl.queue.validate import as_bool, as_int, as_str
from farmctl.store import LOCAL_QUEUE, JobRecord


class Pages(ModelBase):
    async def job_page(self, queue: str = LOCAL_QUEUE, limit: int = 100, offset: int = 0) -> tuple[int, list[JobRecord]]:
        """(how many jobs the queue holds, the jobs at ``offset``..``offset + limit`` in order)."""
        async with self._store.transaction(write=False) as tx:
            q = await self._queue(tx, queue)
            return await tx.count_jobs(q.id), await tx.jobs_page(q.id, limit, offset)

    async def create_job(self, data: Mapping[str, Any], queue: str = LOCAL_QUEUE) -> JobRecord:
        """A job with ``name``, ``count`` (copies of the whole job), ``draft`` and ``sets``, all checked
        before anything is written."""
        name = as_str(data.get("name", ""), "name", allow_empty=True)
        count = as_int(data.get("count", 1), "count", minimum=1)
        draft = as_bool(data.get("draft", True), "draft")
        items = data.get("sets", [])
        if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
            raise FarmctlError("sets must be a list of objects")
        sets = [SetFields.parse(item) for item in items]
        async with self._store.transaction() as tx:
            q = await self._queue(tx, queue)
            job_id = await tx.insert_job(q.id, name, await self._end_rank(tx, q.id), count=count, remaining=count,
                                         created=int(self._clock()), draft=draft)
            for rank, fields in enumerate(sets, start=1):
                await tx.insert_set(job_id, rank=float(rank), **fields.columns())
            return await self._job(tx, job_id)
