"""Scale-out benchmark: many farmctl nodes claiming from one queue on one PostgreSQL.

Each node is a process of its own running farmctl's queue as ``farmctl serve`` does on a Pi (a
store on the shared database with its pool of connections, the queue model, the heartbeat every
``node_timeout / 5``), with N printer loops: claim the next copy, print it for a random time
(``--print-ms``, the simulated printer), record the success, claim again. The printers are
simulated at the queue's level, not on the serial wire: the wire is not what scales out here,
and 80 Marlin simulators would take this machine's cores from what is measured.

Every scenario gets a fresh database with the same queue (``--jobs`` jobs of two sets, enough
copies for the whole run) and runs for ``--seconds`` after all nodes are ready:

- ``1 node x P``, claims by row lock (``FOR UPDATE SKIP LOCKED``): the baseline;
- ``N nodes x P``, claims under the database-wide write lock (how every claim was taken before,
  and how every other write still is): the previous strategy;
- ``N nodes x P``, claims by row lock.

Per scenario: claims/s over the window, claim latency p50/p99/max (ms, as the printer loop sees
it, waiting for a pooled connection included), and the ledger afterwards: every set's successes
in the history equal the copies it consumed, no copy printed twice, no run left open. Ratios are
against the baseline and the previous strategy of the same run; the absolute numbers depend on
what else the machine does.

    python bench/scaleout.py --database postgresql://postgres@127.0.0.1:5432/postgres
    python bench/scaleout.py --nodes 4 --printers 4 --seconds 10   # FARMCTL_TEST_POSTGRES as the server

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
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
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


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: Scenario
    claims: int
    seconds: float
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

async def _printer(model: QueueModel, name: str, start: float, stop: float, print_ms: tuple[float, float],
                   seed: str) -> dict[str, object]:
    rng = random.Random(seed)
    latencies: list[float] = []
    idle = refused = 0
    await asyncio.sleep(max(0.0, start - time.time()))
    while time.time() < stop:
        began = time.perf_counter()
        try:
            claim = await model.counting.claim(name)
        except DatabaseBusy:  # the write lock was not had within the busy timeout (5 s)
            refused += 1
            continue
        took = (time.perf_counter() - began) * 1000
        if claim is None:
            idle += 1
            await asyncio.sleep(0.05)
            continue
        if time.time() < stop:  # a claim that ends after the window is printed but not counted
            latencies.append(took)
        await asyncio.sleep(rng.uniform(*print_ms) / 1000)
        while True:
            try:
                await model.counting.finish_run(claim.run.id, RunResult.SUCCESS)
                break
            except DatabaseBusy:
                refused += 1
    return {"latencies": latencies, "idle": idle, "refused": refused}


async def _beat(model: QueueModel, stop: float) -> None:
    while time.time() < stop:
        await model.nodes.beat()
        await asyncio.sleep(model.nodes.node.beat_every)


async def run_node(url: str, name: str, printers: int, claims: str, print_ms: tuple[float, float]) -> None:
    """Connect and start, say ``ready``, read the window (start and stop, wall clock) from stdin, run it."""
    if claims == DATABASE_LOCK:  # the previous strategy: a claim waits for the one write lock
        QueueDb.claim = QueueDb.write  # type: ignore[method-assign]
    store = await Store.open(url)
    try:
        model = QueueModel.over(store, node=NodeClock(name))
        await model.nodes.start()
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start, stop = (float(x) for x in line.split())
        beating = asyncio.create_task(_beat(model, stop))
        results = await asyncio.gather(*(_printer(model, f"{name}-p{i}", start, stop, print_ms, f"{name}-{i}")
                                         for i in range(printers)))
        beating.cancel()
    finally:
        await store.close()
    print(json.dumps({"latencies": [x for r in results for x in r["latencies"]],  # type: ignore[union-attr]
                      "idle": sum(r["idle"] for r in results),  # type: ignore[misc]
                      "refused": sum(r["refused"] for r in results)}))  # type: ignore[misc]


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


def run_scenario(server: str, scenario: Scenario, args: argparse.Namespace) -> Outcome:
    name = f"farmctl_scaleout_{secrets.token_hex(3)}"
    url = _with_database(server, name)
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        asyncio.run(_fill(url, args.jobs, args.copies))
        children = [subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--node", f"node{n}", "--database", url,
             "--printers", str(scenario.printers), "--claims", scenario.claims, "--print-ms", args.print_ms],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for n in range(scenario.nodes)]
        for child in children:  # every node connected and started before the window opens
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("a node did not start")
        start = time.time() + 0.5
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start!r} {start + args.seconds!r}\n")
            child.stdin.flush()
        reports = []
        for child in children:
            out, _ = child.communicate(timeout=args.seconds + 120)
            if child.returncode != 0:
                raise SystemExit(f"node exited with {child.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        latencies = [x for r in reports for x in r["latencies"]]
        idle = sum(r["idle"] for r in reports)
        if idle:
            print(f"  note: {idle} claims found no copy (the queue ran short; raise --copies)")
        return Outcome(scenario, len(latencies), args.seconds, latencies, asyncio.run(_ledger(url)),
                       sum(r["refused"] for r in reports))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _table(outcomes: list[Outcome]) -> None:
    base, previous = outcomes[0], outcomes[1]
    print(f"\n{'scenario':38} {'claims/s':>9} {'x 1 node':>9} {'x prev':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'5s-busy':>7}  ledger")
    print("-" * 120)
    for o in outcomes:
        print(f"{o.scenario.label:38} {o.per_second:9.1f} {o.per_second / base.per_second:9.2f} "
              f"{o.per_second / previous.per_second:7.2f} {o.percentile(0.5):8.2f} {o.percentile(0.99):8.2f} "
              f"{max(o.latencies_ms, default=float('nan')):8.2f} {o.refused:7d}  {o.ledger}")
    last = outcomes[-1]
    print(f"\n{last.scenario.label}: p50 {last.percentile(0.5) / previous.percentile(0.5):.2f} x and "
          f"p99 {last.percentile(0.99) / previous.percentile(0.99):.2f} x the previous strategy's; "
          f"median of all {len(last.latencies_ms)} claims {statistics.median(last.latencies_ms):.2f} ms")


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
    parser.add_argument("--node", help=argparse.SUPPRESS)
    parser.add_argument("--claims", default=ROW_LOCKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database:
        raise SystemExit("name a PostgreSQL server: --database postgresql://user@host/db or FARMCTL_TEST_POSTGRES")
    low, high = (float(x) for x in args.print_ms.split(","))
    if args.node:
        asyncio.run(run_node(args.database, args.node, args.printers, args.claims, (low, high)))
        return
    scenarios = [
        Scenario(f"1 node x {args.printers}, row locks", 1, args.printers, ROW_LOCKS),
        Scenario(f"{args.nodes} nodes x {args.printers}, database lock", args.nodes, args.printers, DATABASE_LOCK),
        Scenario(f"{args.nodes} nodes x {args.printers}, row locks", args.nodes, args.printers, ROW_LOCKS),
    ]
    print(f"{args.seconds:g} s per scenario, prints of {low:g}-{high:g} ms, {args.jobs} jobs x 2 sets x "
          f"{args.copies} copies; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    outcomes = []
    for scenario in scenarios:
        print(f"running {scenario.label} ...", flush=True)
        outcomes.append(run_scenario(args.database, scenario, args))
    _table(outcomes)


if __name__ == "__main__":
    main()
