"""Nodes sharing one queue: a node that stops beating has its open runs settled once, its copies owed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from databases import Database
from queue_helpers import make_job

from farmctl.queue import NodeClock, QueueModel
from farmctl.store import RunResult, Store


class Wall:
    """One clock for every node of the test, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def nodes(database: Database) -> AsyncIterator[tuple[Wall, list[QueueModel]]]:
    wall = Wall()
    stores = [await Store.open(database) for _ in range(3)]
    models = [QueueModel.over(s, clock=wall, node=NodeClock(name, dead_after=10.0))
              for s, name in zip(stores, ("a", "b", "c"))]
    for model in models:
        assert await model.nodes.start() == []
    yield wall, models
    for store in stores:
        await store.close()


async def test_a_silent_nodes_open_run_is_aborted_once_and_its_copy_printed_elsewhere(nodes) -> None:
    wall, (a, b, c) = nodes
    job_id = await make_job(a, [("part", 2)])
    on_a = await a.counting.claim("a-1")
    on_b = await b.counting.claim("b-1")
    assert on_a.run.node == "a" and on_b.run.node == "b"
    assert await c.counting.claim("c-1") is None, "both copies are reserved"

    wall.now += 9.0  # everyone but a beats; a is not late yet
    assert await b.nodes.beat() == [] and await c.nodes.beat() == []
    wall.now += 2.0  # a's last beat is now 11 s old
    settled = await b.nodes.beat()
    assert [(r.id, r.result, r.printer) for r in settled] == [(on_a.run.id, RunResult.ABORTED, "a-1")]
    assert await c.nodes.beat() == [] and await b.nodes.beat() == [], "settled exactly once"

    retry = await c.counting.claim("c-1")
    assert retry is not None and retry.set.path == "part", "the copy is owed again"
    await b.counting.finish_run(on_b.run.id, RunResult.SUCCESS)
    await c.counting.finish_run(retry.run.id, RunResult.SUCCESS)
    history = sorted((r.node, r.printer, r.result) for r in await c.settings.get_history())
    assert history == [("a", "a-1", RunResult.ABORTED), ("b", "b-1", RunResult.SUCCESS),
                       ("c", "c-1", RunResult.SUCCESS)]
    assert (await c.jobs.get_job(job_id)).remaining == 0
    async with a.store.transaction(write=False) as tx:
        status = await tx.printers.status("a-1")
    assert not status.active and "node a stopped answering" in status.reason


async def test_a_restarting_node_settles_its_own_runs_and_leaves_the_living_ones(nodes) -> None:
    wall, (a, b, _) = nodes
    await make_job(a, [("part", 2)])
    on_a = await a.counting.claim("a-1")
    on_b = await b.counting.claim("b-1")
    wall.now += 1.0
    assert [r.id for r in await a.nodes.start()] == [on_a.run.id]  # a came back: its print died with it
    assert (await b.counting.open_run("b-1")).id == on_b.run.id, "b still prints"
    async with a.store.transaction(write=False) as tx:
        assert "interrupted by a restart" in (await tx.printers.status("a-1")).reason


async def test_each_node_advertises_its_url_and_the_listing_marks_who_still_beats(database: Database) -> None:
    wall = Wall()
    stores = [await Store.open(database) for _ in range(2)]
    try:
        a = QueueModel.over(stores[0], clock=wall, node=NodeClock("a", 10.0, "http://pi-a.local:5000"))
        b = QueueModel.over(stores[1], clock=wall, node=NodeClock("b", 10.0, "http://10.0.0.7:5000"))
        await a.nodes.start()
        await b.nodes.start()
        assert [(n.name, n.url, n.alive, n.this_node) for n in await a.nodes.listing()] == [
            ("a", "http://pi-a.local:5000", True, True), ("b", "http://10.0.0.7:5000", True, False)]
        assert [n.name for n in await a.nodes.live()] == ["b"], "the others, not this node"
        wall.now += 11.0  # b falls silent; a beats on
        await a.nodes.beat()
        assert [(n.name, n.alive) for n in await a.nodes.listing()] == [("a", True), ("b", False)]
        assert await a.nodes.live() == []
        moved = QueueModel.over(stores[1], clock=wall, node=NodeClock("b", 10.0, "http://10.0.0.8:5000"))
        await moved.nodes.start()  # b comes back at another address
        assert [(n.name, n.url) for n in await a.nodes.live()] == [("b", "http://10.0.0.8:5000")]
    finally:
        for store in stores:
            await store.close()


async def test_every_node_sees_which_node_drives_which_printer(nodes) -> None:
    _, (a, b, c) = nodes
    await a.nodes.set_printers([("a-1", "Left MK3"), ("a-2", "a-2")])
    await b.nodes.set_printers([("b-1", "b-1")])
    await a.nodes.set_printers([("a-1", "Left MK3")])  # a-2 left node a's farm.toml
    await c.nodes.set_printers([("b-1", "b-1 moved")])  # the printer moved to node c
    assert [(p.node, p.printer, p.display_name) for p in await b.nodes.printers()] == [
        ("a", "a-1", "Left MK3"), ("c", "b-1", "b-1 moved")]
