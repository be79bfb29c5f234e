"""Queue benchmark: Continuous Print's state/get and set/add against a farm with a big queue.

Fills a fresh data folder with N jobs (one set each, written straight through the store in one
transaction), starts ``farmctl serve`` in a child process (one simulated printer, full speed, queue
inactive), makes an API key with ``farmctl keys add``, and times requests from one ``requests``
session to 127.0.0.1. Prints median and p99 per endpoint; asserts nothing.

    python bench/queue.py                      # 10,000 jobs, 100 state/get, 200 set/add
    python bench/queue.py --jobs 1000 --gets 300
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's ``queue`` (which asyncio, urllib3 and aiosqlite
# import), and running it puts bench/ first on sys.path: take that entry out before any import.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

from farmctl.farm.farm import DATABASE_NAME  # noqa: E402
from farmctl.queue import QueueModel  # noqa: E402
from farmctl.store import LOCAL_QUEUE, SetFields, Store  # noqa: E402

CP = "/plugin/continuousprint"


async def fill(data: Path, jobs: int) -> None:
    store = await Store.open(data / DATABASE_NAME)
    try:
        model = QueueModel.over(store)
        await model.jobs.add_set({"path": "first.gcode", "count": 1}, job_name="first", job_draft=False)
        async with store.transaction() as tx:
            queue = await tx.queues.named(LOCAL_QUEUE)
            assert queue is not None
            now = int(time.time())
            for n in range(1, jobs):
                job_id = await tx.jobs.insert(queue.id, f"job {n}", float(n + 1), count=2, remaining=2,
                                             created=now, draft=n % 2 == 0)
                await tx.sets.insert(job_id, 1.0, SetFields(path=f"parts/part-{n % 50}.gcode", sd=False, count=3,
                                                             remaining=3, completed=0, metadata=None,
                                                             materials=("PLA",), profiles=()))
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        out.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{response.request.method} {response.url}: {response.status_code} {response.text[:200]}")
    return out


def report(name: str, samples: list[float], extra: str = "") -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"  {name:<10} n={len(samples):<5} median {statistics.median(samples) * 1000:8.1f} ms"
          f"   p99 {p99 * 1000:8.1f} ms   max {ordered[-1] * 1000:8.1f} ms{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--gets", type=int, default=100, help="state/get requests to time")
    parser.add_argument("--adds", type=int, default=200, help="set/add requests to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="farmctl-bench-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        started = time.perf_counter()
        asyncio.run(fill(data, args.jobs))
        print(f"filled {args.jobs} jobs in {time.perf_counter() - started:.1f} s")
        config = root / "farm.toml"
        config.write_text('[[printers]]\nname = "p1"\nport = "sim"\nprofile = "marlin2"\n')
        port = free_port()
        command = [sys.executable, "-m", "farmctl", "serve", "--data", str(data), "--port", str(port),
                   "--sim-speed", "fast", "--config", str(config)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
        try:
            key = subprocess.run([sys.executable, "-m", "farmctl", "keys", "add", "bench", "--data", str(data)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            session = requests.Session()
            session.headers["X-Api-Key"] = key
            base = f"http://127.0.0.1:{port}{CP}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    session.get(f"{base}/state/get", timeout=30)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.1)

            size = len(session.get(f"{base}/state/get").content)
            gets = timed(lambda: session.get(f"{base}/state/get", timeout=60), args.gets)
            adds = timed(lambda: session.post(f"{base}/set/add", timeout=60, data={
                "path": "bench.gcode", "sd": False, "count": 1, "jobName": "bench", "jobDraft": True}), args.adds)
            fresh: list[float] = []  # state/get right after a change: built anew, not from the cache
            for _ in range(min(args.gets, 20)):
                session.post(f"{base}/set/add", timeout=60, data={"path": "bench.gcode", "sd": False, "count": 1})
                fresh += timed(lambda: session.get(f"{base}/state/get", timeout=60), 1)
            history = timed(lambda: session.get(f"{base}/history/get", timeout=60), min(args.gets, 50))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)

    print(f"farmctl queue benchmark: {args.jobs} jobs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"  command: {' '.join(['python', 'bench/queue.py'] + sys.argv[1:])}")
    report("state/get", gets, f"   ({size / 1e6:.1f} MB per answer)")
    report("state/get", fresh, "   (right after a change)")
    report("set/add", adds)
    report("history/get", history)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
