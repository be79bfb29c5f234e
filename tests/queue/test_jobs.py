"""Jobs and sets: the API shapes, ranks, edits, archive, reset, and refusing bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from queue_helpers import dump, make_job

from farmctl.errors import FarmctlError
from farmctl.http import cp_json
from farmctl.queue import QueueModel

JOB_KEYS = {"queue", "name", "count", "draft", "sets", "created", "id", "remaining", "acquired"}
SET_KEYS = {"path", "count", "metadata", "materials", "profiles", "id", "rank", "sd", "remaining", "completed"}


async def test_add_set_creates_a_draft_job_with_plugin_keys(model: QueueModel) -> None:
    added = await model.jobs.add_set(
        {"path": "dir/cube.gcode", "sd": "false", "count": "2", "materials": ["PLA"], "profiles": []},
        job_name="Cubes",
    )
    body = cp_json.added_set_json(added)
    assert set(body) == {"job_id", "set_"} and set(body["set_"]) == SET_KEYS
    assert body["set_"] | {"id": 0} == {
        "path": "dir/cube.gcode", "count": 2, "metadata": None, "materials": ["PLA"], "profiles": [],
        "id": 0, "rank": 1.0, "sd": False, "remaining": 2, "completed": 0,
    }
    job = cp_json.job_json(await model.jobs.get_job(added.job_id))
    assert set(job) == JOB_KEYS
    assert (job["name"], job["queue"], job["draft"], job["count"], job["remaining"]) == ("Cubes", "local", True, 1, 1)
    assert job["acquired"] is False


async def test_add_set_to_unknown_job_makes_a_new_one(model: QueueModel) -> None:
    first = await model.jobs.add_set({"path": "a.gcode"}, job_name="x")
    second = await model.jobs.add_set({"path": "b.gcode"}, job=first.job_id)
    third = await model.jobs.add_set({"path": "c.gcode"}, job=999, job_draft="False")
    assert second.job_id == first.job_id and third.job_id != first.job_id
    assert [s.path for s in (await model.jobs.get_job(first.job_id)).sets] == ["a.gcode", "b.gcode"]
    new = await model.jobs.get_job(third.job_id)
    assert new.name == "c" and new.draft is False


async def test_add_job_is_empty_draft(model: QueueModel) -> None:
    job = await model.jobs.add_job("new")
    assert (job.name, job.draft, job.sets, job.count, job.remaining) == ("new", True, (), 1, 1)


async def _order(model: QueueModel, queue: str = "local") -> list[int]:
    return [j.id for j in await model.jobs.list_jobs(queue)]


async def test_move_puts_job_between_neighbours(model: QueueModel) -> None:
    a, b, c = [(await model.jobs.add_job(n)).id for n in "abc"]
    await model.jobs.move_job(c, a, "local")
    assert await _order(model) == [a, c, b]
    ranks = {j.id: j.rank for j in await model.jobs.list_jobs("local")}
    assert ranks[c] == (ranks[a] + ranks[b]) / 2
    await model.jobs.move_job(b, "", "local")
    assert await _order(model) == [b, a, c]
    await model.jobs.move_job(b, c, "local")
    assert await _order(model) == [a, c, b]


async def test_move_rebalances_when_ranks_collide(model: QueueModel) -> None:
    a, b = (await model.jobs.add_job("a")).id, (await model.jobs.add_job("b")).id
    movers = [(await model.jobs.add_job(f"m{i}")).id for i in range(60)]
    for m in movers:  # always between a and the job right after it: halves the gap each time
        await model.jobs.move_job(m, a, "local")
    assert await _order(model) == [a, *reversed(movers), b]
    ranks = [j.rank for j in await model.jobs.list_jobs("local")]
    assert len(set(ranks)) == len(ranks)


async def test_move_between_queues(model: QueueModel) -> None:
    a = (await model.jobs.add_job("a")).id
    lan = (await model.jobs.add_job("l", queue="LAN")).id
    await model.jobs.move_job(a, lan, "local", "LAN")
    assert await _order(model, "LAN") == [lan, a] and await _order(model) == []


async def test_edit_job_replaces_sets_and_deletes_omitted(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1), ("B", 1), ("C", 1)])
    a, b, c = (await model.jobs.get_job(job_id)).sets
    edited = await model.jobs.edit_job({
        "id": job_id, "name": "renamed", "count": 3, "remaining": 2, "draft": "true",
        "sets": [{"id": c.id, "count": 4}, {"path": "D", "sd": False, "count": 2}, {"id": a.id}],
    })
    assert (edited.name, edited.count, edited.remaining, edited.draft) == ("renamed", 3, 2, True)
    assert [(s.path, s.count) for s in edited.sets] == [("C", 4), ("D", 2), ("A", 1)]
    assert b.id not in {s.id for s in edited.sets}
    assert [s.rank for s in edited.sets] == [1.0, 2.0, 3.0]


async def test_remove_from_local_archives_and_elsewhere_deletes(model: QueueModel) -> None:
    local = await make_job(model, [("A", 1)])
    lan = (await model.jobs.add_job("l", queue="LAN")).id
    assert await model.jobs.remove_jobs("local", [local]) == 1
    archived = await model.jobs.get_job(local)
    assert archived.queue == "archive" and archived.archived
    assert await model.jobs.remove_jobs("LAN", [str(lan)]) == 1
    with pytest.raises(FarmctlError) as err:
        await model.jobs.get_job(lan)
    assert err.value.status == 404
    assert await model.jobs.remove_jobs("archive", [local]) == 1
    assert await _order(model, "archive") == []


async def test_reset_refills_every_copy(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1), ("B", 2)], count=2)
    for _ in range(3):
        claim = await model.counting.claim("p1")
        assert claim is not None
        await model.counting.finish_run(claim.run.id, "success")
    job = await model.jobs.get_job(job_id)
    assert job.remaining == 1
    assert await model.jobs.reset_jobs("local", [job_id]) == 1
    job = await model.jobs.get_job(job_id)
    assert job.remaining == 2 and [(s.remaining, s.completed) for s in job.sets] == [(1, 0), (2, 0)]


BAD_CALLS: list[tuple[str, Any, int]] = [
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x", "count": 0}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x", "count": "three"}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x", "remaining": -1}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": ""}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x", "sd": "maybe"}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x", "materials": [3]}), 400),
    ("add_set", lambda m, j: m.jobs.add_set({"path": "x"}, queue="nope"), 404),
    ("edit_job", lambda m, j: m.jobs.edit_job({"id": 999}), 404),
    ("edit_job", lambda m, j: m.jobs.edit_job({"id": j, "count": -2}), 400),
    ("edit_job", lambda m, j: m.jobs.edit_job({"id": j, "count": 1, "remaining": 2}), 400),
    ("edit_job", lambda m, j: m.jobs.edit_job({"id": j, "name": "ok", "sets": [{"path": "y", "count": -1}]}), 400),
    ("edit_job", lambda m, j: m.jobs.edit_job({"id": j, "name": "ok", "sets": [{"id": 999}]}), 400),
    ("move_job", lambda m, j: m.jobs.move_job(999, None, "local"), 404),
    ("move_job", lambda m, j: m.jobs.move_job(j, 999, "local"), 404),
    ("move_job", lambda m, j: m.jobs.move_job(j, None, "LAN"), 404),
    ("remove_jobs", lambda m, j: m.jobs.remove_jobs("local", [j, 999]), 404),
    ("remove_jobs", lambda m, j: m.jobs.remove_jobs("local", ["x"]), 400),
    ("reset_jobs", lambda m, j: m.jobs.reset_jobs("LAN", [j]), 404),
    ("finish_run", lambda m, j: m.counting.finish_run(1, "success"), 404),
    ("edit_queues", lambda m, j: m.settings.edit_queues([{"name": "local"}, {"name": "local"}]), 400),
    ("edit_automation", lambda m, j: m.settings.edit_automation({"events": {"continuousprint_success": [{"script": "?"}]}}), 400),
    ("set_external", lambda m, j: m.settings.set_external([1, 2]), 400),
]


@pytest.mark.parametrize("name,call,status", BAD_CALLS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_CALLS)])
async def test_bad_input_raises_and_changes_nothing(
    model: QueueModel, db_path: Path, name: str, call: Any, status: int
) -> None:
    job_id = await make_job(model, [("A", 1)], count=1)
    before = dump(db_path)
    with pytest.raises(FarmctlError) as err:
        await call(model, job_id)
    assert err.value.status == status
    assert dump(db_path) == before
