"""Claims on PostgreSQL, where many nodes' printers claim at once over connections of their own:
no copy is taken twice in any interleaving, the counts come out exact, and a claim never waits for
a copy another transaction holds, nor for the database-wide write lock the other writes take."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from databases import PostgresDatabase, query
from queue_helpers import Clock, make_job

from farmctl.queue import NodeClock, QueueModel
from farmctl.store import DatabaseBusy, RunResult, Store
from farmctl.store.postgres import WRITE_LOCK

CLAIMERS = 12
OUTCOMES = (RunResult.SUCCESS,) * 5 + (RunResult.FAILURE, RunResult.CANCELLED, RunResult.ABORTED, None)
"""What each attempt ends as; None: the claim is withdrawn before it prints."""


@pytest.fixture
async def url(postgres_database: PostgresDatabase) -> str:
    return postgres_database.fresh_install()


@pytest.fixture
async def models(url: str) -> AsyncIterator[list[QueueModel]]:
    """One store (its own pool of connections) per claimer, as separate nodes would have."""
    stores = await asyncio.gather(*(Store.open(url) for _ in range(CLAIMERS)))
    yield [QueueModel.over(store, clock=Clock(), node=NodeClock(f"node-{i}")) for i, store in enumerate(stores)]
    await asyncio.gather(*(store.close() for store in stores))


async def _overbooked(url: str) -> list[tuple[int, int, int]]:
    """Sets with more open runs than copies they still owe: a copy claimed twice."""
    return [tuple(r) for r in await query(url, """
        SELECT s.id, s.remaining, COUNT(r.id) FROM sets s JOIN runs r ON r.set_id = s.id AND r.result IS NULL
        GROUP BY s.id, s.remaining HAVING COUNT(r.id) > s.remaining""")]


async def _printer(model: QueueModel, name: str, seed: int, done: asyncio.Event) -> Counter[str]:
    rng = random.Random(seed)
    attempts: Counter[str] = Counter()
    while not done.is_set():
        claim = await model.counting.claim(name)
        if claim is None:
            await asyncio.sleep(0.005)
            continue
        await asyncio.sleep(rng.uniform(0, 0.004))
        outcome = rng.choice(OUTCOMES)
        if outcome is None:
            await model.counting.withdraw(claim.run.id)
            continue
        await model.counting.finish_run(claim.run.id, outcome)
        attempts[f"{claim.set.path} {outcome.value}"] += 1
    return attempts


async def test_many_claimers_never_share_a_copy_and_the_counts_come_out_exact(
    models: list[QueueModel], url: str,
) -> None:
    first = models[0]
    job_id = await make_job(first, [("A", 4), ("B", 3)], count=3)  # 21 copies to consume, A A A A B B B x 3
    other_id = await make_job(first, [("C", 5)])
    done = asyncio.Event()
    seen: list[list[tuple[int, int, int]]] = []

    async def watch() -> None:  # from a connection of its own, between and during the claims
        while not done.is_set():
            seen.append(await _overbooked(url))
            await asyncio.sleep(0.003)

    async def until_empty() -> None:
        while True:
            jobs = [await first.jobs.get_job(j) for j in (job_id, other_id)]
            if all(job.remaining == 0 for job in jobs):
                done.set()
                return
            await asyncio.sleep(0.02)

    *printers, _, _ = await asyncio.wait_for(asyncio.gather(
        *(_printer(m, f"p{i}", i, done) for i, m in enumerate(models)), watch(), until_empty()), timeout=25)
    assert seen and not any(seen), f"a copy was claimed twice: {[s for s in seen if s]}"
    attempts = sum(printers, Counter())
    consumed: Counter[str] = Counter()
    for key, n in attempts.items():
        path, result = key.split()
        if result in ("success", "failure"):
            consumed[path] += n
    assert consumed == {"A": 12, "B": 9, "C": 5}, "each copy is consumed exactly once, whoever printed it"
    history = Counter(f"{r.set_path} {r.result.value}" for r in await first.settings.get_history(limit=1000))
    assert history == attempts, "the history records every attempt the printers made, and no other"
    sets = [s for j in (job_id, other_id) for s in (await first.jobs.get_job(j)).sets]
    assert [(s.path, s.remaining) for s in sets] == [("A", 0), ("B", 0), ("C", 0)]
    assert sets[2].completed == attempts["C success"]
    assert sum(1 for p in printers if p) > 1, "the copies were printed by several printers"
    assert await query(url, "SELECT COUNT(*) FROM copies") == [(0,)]
    assert await query(url, "SELECT COUNT(*) FROM runs WHERE result IS NULL") == [(0,)]


async def test_claims_at_one_instant_take_each_copy_once(models: list[QueueModel], url: str) -> None:
    await make_job(models[0], [("few", 5)])
    claims = await asyncio.wait_for(asyncio.gather(
        *(m.counting.claim(f"p{i}") for i, m in enumerate(models))), timeout=10)
    taken = [c for c in claims if c is not None]
    assert len(taken) == 5 and len({c.run.id for c in taken}) == 5
    assert await query(url, "SELECT COUNT(*) FROM runs WHERE result IS NULL") == [(5,)]
    assert await query(url, "SELECT COUNT(*) FROM copies") == [(0,)]


async def test_a_claim_passes_over_a_held_copy_and_the_write_lock_without_waiting(
    models: list[QueueModel], url: str,
) -> None:
    import asyncpg

    model = models[0]
    await make_job(model, [("A", 2)])
    await make_job(model, [("B", 1)])
    other = await asyncpg.connect(url)
    try:
        held = other.transaction()
        await held.start()
        # Another node's long write holds the database write lock, and a claim of its own holds
        # one copy of A (its row locked, not yet committed).
        await other.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
        await other.fetchval("SELECT c.id FROM copies c JOIN sets s ON s.id = c.set_id WHERE s.path = 'A' "
                             "ORDER BY c.id LIMIT 1 FOR KEY SHARE OF s FOR UPDATE OF c")
        started = time.monotonic()
        first = await asyncio.wait_for(model.counting.claim("p1"), timeout=5)
        second = await asyncio.wait_for(model.counting.claim("p2"), timeout=5)
        third = await asyncio.wait_for(model.counting.claim("p3"), timeout=5)
        took = time.monotonic() - started
        assert (first.set.path, second.set.path, third) == ("A", "B", None), \
            "the held copy of A is passed over: the other A, then B, then nothing free"
        assert took < 3, f"three claims took {took:.2f} s while the other transaction held its locks"
        await held.rollback()  # the other claim gave its copy back
        fourth = await asyncio.wait_for(model.counting.claim("p3"), timeout=5)
        assert fourth is not None and fourth.set.path == "A"
    finally:
        await other.close()
    assert await _overbooked(url) == []


async def test_a_write_waits_for_the_write_lock_up_to_the_busy_timeout_while_claims_go_on(
    models: list[QueueModel], url: str,
) -> None:
    import asyncpg

    job_id = await make_job(models[0], [("A", 2)])
    store = await Store.open(url, busy_timeout=1.5)  # every statement's timeout too: not too short
    other = await asyncpg.connect(url)
    try:
        model = QueueModel.over(store, clock=Clock())
        held = other.transaction()
        await held.start()
        await other.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)  # another node's long write
        claim = await asyncio.wait_for(model.counting.claim("p1"), timeout=5)
        assert claim is not None and claim.set.path == "A"
        started = time.monotonic()
        with pytest.raises(DatabaseBusy):
            await model.jobs.edit_job({"id": job_id, "name": "renamed"})
        assert 1.4 < time.monotonic() - started < 6
        await held.rollback()
        assert (await model.jobs.get_job(job_id)).name == "j", "the refused edit changed nothing"
        await model.counting.finish_run(claim.run.id, RunResult.SUCCESS)
    finally:
        await other.close()
        await store.close()
