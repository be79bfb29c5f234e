"""The counting rules: what prints next and what a finished attempt consumes."""

from __future__ import annotations

import pytest
from queue_helpers import make_job, print_all

from farmctl.errors import FarmctlError
from farmctl.queue import QueueModel
from farmctl.queue.counting import WorkQuery
from farmctl.store import LOCAL_QUEUE, RunResult


async def test_count_3_alternates_sets(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1), ("B", 1)], count=3)
    assert await print_all(model) == list("ABABAB")
    job = await model.jobs.get_job(job_id)
    assert job.remaining == 0 and job.acquired_by is None
    assert [s.remaining for s in job.sets] == [0, 0]


async def test_count_5_with_single_copies_prints_ten(model: QueueModel) -> None:
    await make_job(model, [("A", 1), ("B", 1)], count=5)
    assert await print_all(model) == list("ABABABABAB")


async def test_set_count_2_finishes_its_copies_before_the_next_set(model: QueueModel) -> None:
    # Rule 2 picks the first set with copies left, so A's two copies come before B; rule 3
    # refills both sets for the job's second pass.
    await make_job(model, [("A", 2), ("B", 1)], count=2)
    assert await print_all(model) == list("AABAAB")


async def test_completed_counts_within_a_pass(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 2), ("B", 1)], count=2)
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, "success")
    a, b = (await model.jobs.get_job(job_id)).sets
    assert (a.remaining, a.completed, b.remaining, b.completed) == (1, 1, 1, 0)


async def test_failure_consumes_a_copy(model: QueueModel) -> None:
    await make_job(model, [("A", 2)], count=1)
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, RunResult.FAILURE)
    assert await print_all(model) == ["A"]
    results = [r.result for r in await model.settings.get_history()]
    assert results == [RunResult.SUCCESS, RunResult.FAILURE]


async def test_cancel_consumes_nothing(model: QueueModel) -> None:
    await make_job(model, [("A", 1)], count=1)
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, "cancelled")
    assert await print_all(model) == ["A"]


async def test_set_remaining_above_count_prints_remaining_first(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1)], count=2)
    job = await model.jobs.get_job(job_id)
    await model.jobs.edit_job({"id": job_id, "sets": [{"id": job.sets[0].id, "remaining": 3}]})
    assert await print_all(model) == list("AAAA")


async def test_drafts_and_archived_jobs_never_print(model: QueueModel) -> None:
    await model.jobs.add_set({"path": "draft.gcode"}, job_name="draft")  # jobDraft defaults to true
    archived = await make_job(model, [("gone", 1)])
    await model.jobs.remove_jobs("local", [archived])
    assert (await model.jobs.get_job(archived)).queue == "archive"
    assert await model.counting.claim("p1") is None


async def test_empty_and_finished_jobs_are_skipped(model: QueueModel) -> None:
    empty = await model.jobs.add_job("empty")
    await model.jobs.edit_job({"id": empty.id, "draft": False})
    await make_job(model, [("done", 1)], count=1, remaining=0)
    await make_job(model, [("next", 1)])
    assert await print_all(model) == ["next"]


async def test_profiles_filter_sets(model: QueueModel) -> None:
    job = await model.jobs.add_set({"path": "mk3only", "profiles": ["mk3"]}, job_name="j")
    await model.jobs.add_set({"path": "any"}, job=job.job_id)
    await model.jobs.edit_job({"id": job.job_id, "draft": False})
    assert await print_all(model, "ender", profile="ender3") == ["any"]
    assert await print_all(model, "prusa", profile="mk3") == ["mk3only"]


async def test_materials_filter_sets(model: QueueModel) -> None:
    job = await model.jobs.add_set({"path": "red", "materials": ["PLA_red", None]}, job_name="j")
    await model.jobs.edit_job({"id": job.job_id, "draft": False})
    assert await model.counting.claim("p1", materials=["PLA_blue", "PLA_red"]) is None
    claim = await model.counting.claim("p1", materials=["PLA_red", "PETG"])
    assert claim is not None and claim.set.path == "red"


async def test_printers_that_track_no_materials_print_anything(model: QueueModel) -> None:
    job = await model.jobs.add_set({"path": "red", "materials": ["PLA_red"]}, job_name="j")
    await model.jobs.edit_job({"id": job.job_id, "draft": False})
    assert await print_all(model) == ["red"]


async def test_claim_marks_acquired_and_records_open_run(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1)], count=2)
    claim = await model.counting.claim("p1")
    assert claim is not None
    assert claim.job.acquired_by == "p1"
    assert (await model.counting.open_run("p1")) == claim.run
    assert claim.run.result is None
    with pytest.raises(FarmctlError) as err:
        await model.counting.claim("p1")
    assert err.value.status == 409
    await model.counting.finish_run(claim.run.id, "success")
    assert (await model.jobs.get_job(job_id)).acquired_by is None


async def test_finishing_twice_is_refused_and_counts_once(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 3)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, "success")
    with pytest.raises(FarmctlError) as err:
        await model.counting.finish_run(claim.run.id, "success")
    assert err.value.status == 409
    assert (await model.jobs.get_job(job_id)).sets[0].remaining == 2


async def test_finish_rejects_unknown_runs_and_results(model: QueueModel) -> None:
    await make_job(model, [("A", 1)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    with pytest.raises(FarmctlError) as err:
        await model.counting.finish_run(9999, "success")
    assert err.value.status == 404
    with pytest.raises(FarmctlError):
        await model.counting.finish_run(claim.run.id, "exploded")
    assert (await model.counting.open_run("p1")) == claim.run


async def test_jobs_print_in_rank_order_across_queues(model: QueueModel) -> None:
    first = await make_job(model, [("first", 1)])
    second = await make_job(model, [("second", 1)])
    await model.jobs.move_job(second, None, "local")
    assert await print_all(model) == ["second", "first"]
    lan = await model.jobs.add_set({"path": "lan"}, job_name="l", job_draft=False, queue="LAN")
    assert lan.job_id != first
    assert await print_all(model) == []  # the printer serves only local
    claim = await model.counting.claim("p1", queues=["local", "LAN"])
    assert claim is not None and claim.set.path == "lan"


async def test_deleting_a_printing_set_still_closes_its_run(model: QueueModel) -> None:
    job_id = await make_job(model, [("A", 1), ("B", 1)])
    claim = await model.counting.claim("p1")
    assert claim is not None
    b = (await model.jobs.get_job(job_id)).sets[1]
    await model.jobs.edit_job({"id": job_id, "sets": [{"id": b.id}]})
    closed = await model.counting.finish_run(claim.run.id, "success")
    assert closed.result is RunResult.SUCCESS
    assert await print_all(model) == ["B"]


async def test_with_work_answers_many_printers_as_has_work_answers_each(model: QueueModel) -> None:
    """One read for several printers gives each the answer its own has_work gives: by profile,
    by loaded material, with a reserved copy taken, and a draft never counting."""
    await model.jobs.add_set({"path": "draft.gcode", "count": 1}, job_name="draft", job_draft=True)
    await model.jobs.add_set({"path": "red.gcode", "count": 1, "materials": ["PLA_red_#ff0000"],
                              "profiles": ["mk3"]}, job_name="red", job_draft=False)
    queries = {"mk3-red": WorkQuery((LOCAL_QUEUE,), "mk3", ("PLA_red_#ff0000",)),
               "mk3-untracked": WorkQuery((LOCAL_QUEUE,), "mk3", None),
               "mk3-blue": WorkQuery((LOCAL_QUEUE,), "mk3", ("PLA_blue_#0000ff",)),
               "ender-red": WorkQuery((LOCAL_QUEUE,), "ender", ("PLA_red_#ff0000",))}

    async def each() -> set[str]:
        return {name for name, q in queries.items()
                if await model.counting.has_work(q.profile, queues=q.queues, materials=q.materials)}

    assert await model.counting.with_work(queries) == await each() == {"mk3-red", "mk3-untracked"}
    assert [job.name for job in await model.jobs.jobs_named("red")] == ["red"]
    assert await model.counting.claim("p1", "mk3", materials=("PLA_red_#ff0000",)) is not None
    assert await model.counting.with_work(queries) == await each() == set()  # its one copy is reserved
    assert await model.counting.with_work({}) == set()
