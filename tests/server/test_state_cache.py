"""state/get's queue list is cached until the database changes: every kind of change shows at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from farmctl.http import cp_json
from farmctl.queue import QueueModel
from farmctl.store import Store


async def state(model: QueueModel, printer: str | None = None) -> list[dict[str, Any]]:
    return cp_json.queues_json(await model.state.snapshot(), printer, frozenset())


async def test_queue_state_follows_this_and_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    one, two = await Store.open(path), await Store.open(path)
    try:
        a, b = QueueModel.over(one), QueueModel.over(two)
        assert (await state(a))[0]["jobs"] == []
        added = await a.jobs.add_set({"path": "x.gcode", "count": 1}, job_name="j", job_draft=False)
        assert [j["id"] for j in (await state(a))[0]["jobs"]] == [added.job_id]
        assert await a.state.snapshot() is await a.state.snapshot()  # unchanged: the same snapshot

        await b.jobs.edit_job({"id": added.job_id, "name": "renamed"})  # another connection
        assert (await state(a))[0]["jobs"][0]["name"] == "renamed"

        claim = await a.counting.claim("p1")
        assert claim is not None
        assert (await state(a, "p1"))[0]["active_set"] == claim.set.id
        assert (await state(a, "p2"))[0]["active_set"] is None
        await b.counting.finish_run(claim.run.id, "success")
        seen = await state(a, "p1")
        assert seen[0]["active_set"] is None and seen[0]["jobs"][0]["remaining"] == 0

        with sqlite3.connect(path) as raw:  # even a plain sqlite3 writer
            raw.execute("UPDATE jobs SET name = 'by hand'")
        assert (await state(a))[0]["jobs"][0]["name"] == "by hand"
    finally:
        await one.close()
        await two.close()
