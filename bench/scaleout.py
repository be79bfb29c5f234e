"""Scale-out benchmark: many farmctl nodes claiming from one queue on one PostgreSQL.

Each node is a process of its own running farmctl's queue as ``farmctl serve`` does on a Pi (a
store on the shared database with its pool of connections, the queue model, the heartbeat every
``node_timeout / 5``) with P simulated printers. The printers are simulated at the queue's level,
not on the serial wire: the wire is not what scales out here, and 80 Marlin simulators would take
this machine's cores from what is measured. Two workloads:

- **burst**: every printer of every node claims at the same moment (the parent orders it; the
  processes share one clock), then all finish; ``--rounds`` times. Claims meet only claims:
  claims/s is the round's claims over the time from the order to the last claim done.
- **steady**: each printer claims, prints for a random time (``--print-ms``), records the success
  and claims again, for ``--seconds``. Finishes still take the database-wide write lock, as every
  write but a claim does, so this is the farm's whole cycle.

Each workload runs three scenarios, each on a fresh database with the same queue (``--jobs`` jobs
of two sets, copies enough for the run): ``1 node x P`` by row locks (the baseline), ``N nodes x
P`` with claims under the database-wide write lock (how every claim was taken before: the same
code with ``QueueDb.claim`` as ``QueueDb.write``), and ``N nodes x P`` by row locks (``FOR UPDATE
SKIP LOCKED``). Per scenario: claims/s, claim latency p50/p99/max in ms as the printer sees it
(a pooled connection waited for included), writes refused after the 5 s busy timeout, and the
ledger afterwards (every set's successes in the history equal the copies it consumed, no copy
printed twice, no run left open). Ratios are against the baseline and the previous strategy of
the same run; absolute numbers depend on what else the machine does.

    python bench/scaleout.py --database postgresql://postgres@127.0.0.1:5432/postgres
    python bench/scaleout.py --nodes 4 --printers 4 --mode burst   # FARMCTL_TEST_POSTGRES as the server

``--database`` names a server and a database a superuser may create databases from; each
scenario's database is created there and dropped after.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue: take bench/ off sys.path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from farmctl.queue import NodeClock, QueueModel  # noqa: E402
from farmctl.queue.db import QueueDb  # noqa: E402
from farmctl.store import DatabaseBusy, RunResult, Store  # noqa: E402

ROW_LOCKS = "row locks"
DATABASE_LOCK = "database lock"


@dataclass(frozen=True, slots=True)
class Scenario:
    label: str
    nodes: int
    printers: int
    claims: str
    mode: str


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: Scenario
    claims: int
    seconds: float
    """Steady: the window. Burst: the rounds' spans summed, each from its start to its last claim done."""
    latencies_ms: list[float]
    ledger: str
    refused: int
    """Claims and finishes the database-wide write lock refused after the 5 s busy timeout."""

    @property
    def per_second(self) -> float:
        return self.claims / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# -- one node (a child process) ---------------------------------------------------------------------

@dataclass(slots=True)
class Tally:
    latencies: list[float]
    """Milliseconds per claim that started inside the window."""
    idle: int = 0
    refused: int = 0


async def _claim(model: QueueModel, name: str, tally: Tally) -> tuple[object | None, float]:
    while True:
        began = time.perf_counter()
        try:
            return await model.counting.claim(name), (time.perf_counter() - began) * 1000
        except DatabaseBusy:  # the write lock was not had within the busy timeout (5 s)
            tally.refused += 1


async def _finish(model: QueueModel, run_id: int, tally: Tally) -> None:
    while True:
        try:
            await model.counting.finish_run(run_id, RunResult.SUCCESS)
            return
        except DatabaseBusy:
            tally.refused += 1


async def _steady(model: QueueModel, name: str, start: float, stop: float, print_ms: tuple[float, float],
                  rng: random.Random, tally: Tally) -> None:
    """Claim, print for a random time, finish, claim again: every printer as busy as it can be."""
    await asyncio.sleep(max(0.0, start - time.time()))
    while time.time() < stop:
        claim, took = await _claim(model, name, tally)
        if claim is None:
            tally.idle += 1
            await asyncio.sleep(0.05)
            continue
        if time.time() < stop:  # a claim that ends after the window is printed but not counted
            tally.latencies.append(took)
        await asyncio.sleep(rng.uniform(*print_ms) / 1000)
        await _finish(model, claim.run.id, tally)  # type: ignore[attr-defined]


async def _bursts(model: QueueModel, names: list[str], tallies: list[Tally], orders: asyncio.Queue[str]) -> None:
    """At each ``claim`` order every printer of this node claims at once, and the node reports when
    each was done (the wall clock the processes share); at ``finish`` they finish; ``stop`` ends."""
    claims: list[object | None] = []
    while (order := await orders.get()) != "stop":
        if order == "claim":
            async def one(name: str, tally: Tally) -> tuple[object | None, float]:
                claim, took = await _claim(model, name, tally)
                tally.latencies.append(took)
                return claim, time.time()
            done = await asyncio.gather(*(one(n, t) for n, t in zip(names, tallies)))
            claims = [c for c, _ in done]
            print(json.dumps({"done": [at for c, at in done if c is not None],
                              "idle": sum(c is None for c in claims)}), flush=True)
        else:
            await asyncio.gather(*(_finish(model, c.run.id, t)  # type: ignore[attr-defined]
                                   for c, t in zip(claims, tallies) if c is not None))
            print(json.dumps({"finished": True}), flush=True)


async def _beat(model: QueueModel) -> None:
    while True:
        await model.nodes.beat()
        await asyncio.sleep(model.nodes.node.beat_every)


async def run_node(url: str, name: str, printers: int, claims: str, mode: str, print_ms: tuple[float, float]) -> None:
    """Connect and start, say ``ready``, then follow stdin: steady, one line with the window (start and
    stop, wall clock); burst, ``claim``/``finish`` orders until ``stop``. Last, one JSON line of tallies."""
    if claims == DATABASE_LOCK:  # the previous strategy: a claim waits for the one write lock
        QueueDb.claim = QueueDb.write  # type: ignore[method-assign]
    store = await Store.open(url)
    names = [f"{name}-p{i}" for i in range(printers)]
    tallies = [Tally([]) for _ in names]
    loop = asyncio.get_running_loop()
    try:
        model = QueueModel.over(store, node=NodeClock(name))
        await model.nodes.start()
        beating = asyncio.create_task(_beat(model))
        print("ready", flush=True)
        if mode == "burst":
            orders: asyncio.Queue[str] = asyncio.Queue()
            work = asyncio.create_task(_bursts(model, names, tallies, orders))
            while not work.done():
                order = (await loop.run_in_executor(None, sys.stdin.readline)).strip() or "stop"
                await orders.put(order)
                if order == "stop":
                    await work
        else:
            start, stop = (float(x) for x in (await loop.run_in_executor(None, sys.stdin.readline)).split())
            await asyncio.gather(*(_steady(model, n, start, stop, print_ms, random.Random(n), t)
                                   for n, t in zip(names, tallies)))
        beating.cancel()
    finally:
        await store.close()
    print(json.dumps({"latencies": [x for t in tallies for x in t.latencies],
                      "idle": sum(t.idle for t in tallies), "refused": sum(t.refused for t in tallies)}))


# -- the scenarios ----------------------------------------------------------------------------------

def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(server: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _fill(url: str, jobs: int, copies_per_set: int) -> None:
    store = await Store.open(url)
    try:
        model = QueueModel.over(store)
        for n in range(jobs):
            job = None
            for part in ("a", "b"):
                added = await model.jobs.add_set({"path": f"job{n}-{part}.gcode", "count": copies_per_set}, job=job,
                                                 job_name=f"job {n}", job_draft=False)
                job = added.job_id
    finally:
        await store.close()


async def _ledger(url: str) -> str:
    """Whether the history and the counts agree: successes per set = copies it consumed, none open."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("""SELECT s.id, s.count - s.remaining AS consumed,
            (SELECT COUNT(*) FROM runs r WHERE r.set_id = s.id AND r.result = 'success') AS printed FROM sets s""")
        still_open = await conn.fetchval("SELECT COUNT(*) FROM runs WHERE result IS NULL")
        free_rows = await conn.fetchval("SELECT COUNT(*) FROM copies")
        owed = await conn.fetchval("SELECT SUM(remaining) FROM sets")
    finally:
        await conn.close()
    wrong = [r["id"] for r in rows if r["consumed"] != r["printed"]]
    printed = sum(r["printed"] for r in rows)
    if wrong or still_open or free_rows != owed:
        return f"WRONG: sets {wrong} disagree, {still_open} runs open, {free_rows} free copy rows for {owed} owed"
    return f"ok ({printed} prints, each copy once, none open)"


def _tell(children: list[subprocess.Popen[str]], line: str) -> None:
    for child in children:
        assert child.stdin is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()


def _hear(child: subprocess.Popen[str]) -> dict[str, Any]:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise SystemExit(f"a node exited ({child.wait()})")
    return json.loads(line)


def run_scenario(server: str, scenario: Scenario, args: argparse.Namespace) -> Outcome:
    name = f"farmctl_scaleout_{secrets.token_hex(3)}"
    url = _with_database(server, name)
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        asyncio.run(_fill(url, args.jobs, args.copies))
        children = [subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--node", f"node{n}", "--database", url,
             "--printers", str(scenario.printers), "--claims", scenario.claims, "--mode", scenario.mode,
             "--print-ms", args.print_ms],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for n in range(scenario.nodes)]
        for child in children:  # every node connected and started before anything is measured
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("a node did not start")
        seconds, idle = args.seconds, 0
        if scenario.mode == "burst":
            seconds = 0.0
            for _ in range(args.rounds):  # a round's claims meet only each other, however long they take
                began = time.time()
                _tell(children, "claim")
                heard = [_hear(child) for child in children]
                seconds += max((at for h in heard for at in h["done"]), default=began) - began
                idle += sum(h["idle"] for h in heard)
                _tell(children, "finish")
                for child in children:
                    _hear(child)
            _tell(children, "stop")
        else:
            start = time.time() + 0.5
            _tell(children, f"{start!r} {start + args.seconds!r}")
        reports = []
        for child in children:
            out, _ = child.communicate(timeout=args.seconds + 120)
            if child.returncode != 0:
                raise SystemExit(f"node exited with {child.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        latencies = [x for r in reports for x in r["latencies"]]
        idle += sum(r["idle"] for r in reports)
        if idle:
            print(f"  note: {idle} claims found no copy (the queue ran short; raise --copies)")
        return Outcome(scenario, len(latencies), seconds, latencies, asyncio.run(_ledger(url)),
                       sum(r["refused"] for r in reports))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _table(outcomes: list[Outcome]) -> None:
    base, previous = outcomes[0], outcomes[1]
    print(f"\n{base.scenario.mode}: " + ("every printer claims at once, each round; claims/s over the bursts"
                                        if base.scenario.mode == "burst" else
                                        "claim, print, finish, claim again; claims/s over the window"))
    print(f"{'scenario':38} {'claims/s':>9} {'x 1 node':>9} {'x prev':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'5s-busy':>7}  ledger")
    print("-" * 120)
    for o in outcomes:
        print(f"{o.scenario.label:38} {o.per_second:9.1f} {o.per_second / base.per_second:9.2f} "
              f"{o.per_second / previous.per_second:7.2f} {o.percentile(0.5):8.2f} {o.percentile(0.99):8.2f} "
              f"{max(o.latencies_ms, default=float('nan')):8.2f} {o.refused:7d}  {o.ledger}")
    last = outcomes[-1]
    print(f"\n{last.scenario.label}: p50 {last.percentile(0.5) / previous.percentile(0.5):.2f} x and "
          f"p99 {last.percentile(0.99) / previous.percentile(0.99):.2f} x the previous strategy's "
          f"({len(last.latencies_ms)} claims)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=os.environ.get("FARMCTL_TEST_POSTGRES"),
                        help="a PostgreSQL server URL (default: FARMCTL_TEST_POSTGRES)")
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--printers", type=int, default=8, help="printers per node")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per scenario")
    parser.add_argument("--print-ms", default="20,80", help="each simulated print lasts between these (ms)")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--copies", type=int, default=400, help="copies per set (two sets per job)")
    parser.add_argument("--mode", action="append", choices=("burst", "steady"),
                        help="burst: all printers claim at once each round; steady: claim, print, finish, "
                             "again (default: both)")
    parser.add_argument("--rounds", type=int, default=5, help="burst mode: rounds of claims")
    parser.add_argument("--node", help=argparse.SUPPRESS)
    parser.add_argument("--claims", default=ROW_LOCKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("name a PostgreSQL server: --database postgresql://user@host/db or FARMCTL_TEST_POSTGRES")
    low, high = (float(x) for x in args.print_ms.split(","))
    if args.node:
        asyncio.run(run_node(args.database, args.node, args.printers, args.claims, (args.mode or ["steady"])[0],
                             (low, high)))
        return
    print(f"{args.seconds:g} s per scenario, steady prints of {low:g}-{high:g} ms, {args.rounds} burst "
          f"rounds, {args.jobs} jobs x 2 sets x {args.copies} copies; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = []
    for mode in args.mode or ["burst", "steady"]:
        outcomes = []
        for nodes, claims in ((1, ROW_LOCKS), (args.nodes, DATABASE_LOCK), (args.nodes, ROW_LOCKS)):
            scenario = Scenario(f"{nodes} node{'s' if nodes > 1 else ''} x {args.printers}, {claims}", nodes,
                                args.printers, claims, mode)
            print(f"running {mode}: {scenario.label} ...", flush=True)
            outcomes.append(run_scenario(args.database, scenario, args))
        results.append(outcomes)
    for outcomes in results:
        _table(outcomes)


if __name__ == "__main__":
    main()
