"""state/get's queue list is cached until the database changes: every kind of change shows at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from farmctl.queue import QueueModel
from farmctl.store import Store


async def test_queue_state_follows_this_and_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    one, two = await Store.open(path), await Store.open(path)
    try:
        a, b = QueueModel(one), QueueModel(two)
        assert (await a.queue_state())[0]["jobs"] == []
        added = await a.add_set({"path": "x.gcode", "count": 1}, job_name="j", job_draft=False)
        assert [j["id"] for j in (await a.queue_state())[0]["jobs"]] == [added.job_id]
        assert await a.queue_state() == await a.queue_state()

        await b.edit_job({"id": added.job_id, "name": "renamed"})  # another connection
        assert (await a.queue_state())[0]["jobs"][0]["name"] == "renamed"

        claim = await a.claim("p1")
        assert claim is not None
        assert (await a.queue_state("p1"))[0]["active_set"] == claim.set.id
        assert (await a.queue_state("p2"))[0]["active_set"] is None
        await b.finish_run(claim.run.id, "success")
        state = await a.queue_state("p1")
        assert state[0]["active_set"] is None and state[0]["jobs"][0]["remaining"] == 0

        with sqlite3.connect(path) as raw:  # even a plain sqlite3 writer
            raw.execute("UPDATE jobs SET name = 'by hand'")
        assert (await a.queue_state())[0]["jobs"][0]["name"] == "by hand"
    finally:
        await one.close()
        await two.close()
