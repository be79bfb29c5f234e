"""Any job, any mix of outcomes: attempts follow the rule-2/3 order and end after every copy."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from queue_helpers import Clock, make_job

from farmctl.queue import QueueModel
from farmctl.store import RunResult, Store

_counter = itertools.count()


async def _run(db: Path, set_counts: list[int], job_count: int, outcomes: list[RunResult]) -> None:
    store = await Store.open(db)
    model = QueueModel.over(store, clock=Clock())
    try:
        sets = [(f"s{i}", c) for i, c in enumerate(set_counts)]
        job_id = await make_job(model, sets, count=job_count)
        expected = [p for _ in range(job_count) for p, c in sets for _ in range(c)]
        consumed = 0
        for outcome in itertools.chain(outcomes, itertools.repeat(RunResult.SUCCESS)):
            claim = await model.counting.claim("p1")
            if claim is None:
                break
            assert claim.set.path == expected[consumed]
            await model.counting.finish_run(claim.run.id, outcome)
            consumed += outcome.consumes_copy
        assert consumed == len(expected)
        job = await model.jobs.get_job(job_id)
        assert job.remaining == 0 and job.acquired_by is None
    finally:
        await store.close()


@pytest.fixture(scope="module")
def prop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prop")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    set_counts=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    job_count=st.integers(1, 3),
    outcomes=st.lists(st.sampled_from(list(RunResult)), max_size=12),
)
def test_attempt_order_matches_the_rules(
    prop_dir: Path, set_counts: list[int], job_count: int, outcomes: list[RunResult]
) -> None:
    asyncio.run(_run(prop_dir / f"{next(_counter)}.db", set_counts, job_count, outcomes))
