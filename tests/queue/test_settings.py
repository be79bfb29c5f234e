"""Queues, state/get's queue list, history, automation and external data."""

from __future__ import annotations

import pytest
from queue_helpers import make_job, print_all

from farmctl.errors import FarmctlError
from farmctl.http import cp_json
from farmctl.queue import QueueModel

HISTORY_KEYS = {"start", "end", "result", "queue_name", "job_name", "set_path", "run_id", "movie_path", "thumb_path"}


async def test_queue_state_hides_archive_and_shows_active_set(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    state = cp_json.queues_json(await model.state.snapshot(), "p1", frozenset())
    assert [q["name"] for q in state] == ["local", "LAN"]
    local = state[0]
    assert set(local) == {"name", "strategy", "jobs", "active_set", "addr", "peers", "rank"}
    assert local["strategy"] == "IN_ORDER" and local["active_set"] == claim.set.id
    assert local["jobs"][0]["id"] == job_id and local["jobs"][0]["acquired"] is True
    assert cp_json.queues_json(await model.state.snapshot(), "p2", frozenset())[0]["active_set"] is None


async def test_queues_get_and_edit(model: QueueModel) -> None:
    assert [cp_json.queue_json(q) for q in await model.settings.get_queues()] == [
        {"name": "local", "addr": None, "strategy": "LINEAR"},
        {"name": "LAN", "addr": None, "strategy": "LINEAR"},
    ]
    await model.settings.edit_queues([{"name": "local"}, {"name": "farm2", "addr": "10.0.0.2:6789", "strategy": "LINEAR"}])
    assert [(q.name, q.addr) for q in await model.settings.get_queues()] == [("local", None), ("farm2", "10.0.0.2:6789")]


async def test_queue_with_jobs_is_not_removed(model: QueueModel) -> None:
    await model.jobs.add_job("x", queue="LAN")
    with pytest.raises(FarmctlError) as err:
        await model.settings.edit_queues([{"name": "local"}])
    assert err.value.status == 409
    assert [q.name for q in await model.settings.get_queues()] == ["local", "LAN"]


async def test_history_rows_newest_first_and_reset_keeps_open_runs(model: QueueModel) -> None:
    await make_job(model, [("A", 1), ("B", 1)])
    await print_all(model)
    await make_job(model, [("C", 1)])
    open_claim = await model.counting.claim("p1")
    assert open_claim is not None
    rows = [cp_json.run_json(r) for r in await model.settings.get_history()]
    assert all(set(r) == HISTORY_KEYS for r in rows)
    assert [(r["set_path"], r["result"]) for r in rows] == [("C", None), ("B", "success"), ("A", "success")]
    await model.settings.reset_history()
    assert [r.id for r in await model.settings.get_history()] == [open_claim.run.id]


async def test_history_survives_deleting_the_job(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1)])
    await print_all(model)
    await model.jobs.remove_jobs("local", [job_id])
    await model.jobs.remove_jobs("archive", [job_id])
    assert [r.job_name for r in await model.settings.get_history()] == ["j"]


async def test_automation_defaults_and_edit(model: QueueModel) -> None:
    assert cp_json.automation_json(await model.settings.get_automation()) == {
        "scripts": {"Bed Clearing": "@pause", "Finished": "@pause"},
        "preprocessors": {},
        "events": {
            "continuousprint_finish": [{"script": "Finished", "preprocessor": None}],
            "continuousprint_success": [{"script": "Bed Clearing", "preprocessor": None}],
        },
    }
    new = {
        "scripts": {"Sweep": "G28\nG1 Y200", "Beep": "M300"},
        "preprocessors": {"cold": "current['bed_temp'] < 30"},
        "events": {"continuousprint_success": [
            {"script": "Sweep", "preprocessor": "cold"}, {"script": "Beep", "preprocessor": None},
        ]},
    }
    await model.settings.edit_automation(new)
    assert cp_json.automation_json(await model.settings.get_automation()) == new
    assert await model.settings.hooks("continuousprint_success") == [
        ("G28\nG1 Y200", "current['bed_temp'] < 30"), ("M300", None),
    ]
    assert await model.settings.hooks("continuousprint_finish") == []


async def test_external_data_round_trip(model: QueueModel) -> None:
    assert await model.settings.get_external() == {}
    await model.settings.set_external({"a": 1, "b": "hello"})
    assert await model.settings.get_external() == {"a": 1, "b": "hello"}
