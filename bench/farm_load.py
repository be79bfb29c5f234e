"""Farm load benchmark: N printers in one ``farmctl serve``, with HTTP pollers and push listeners.

Each printer is a simulated Marlin in a process of its own (real wire timing at the baud rate,
each reply line written by itself 2 ms after the line it answers, as a USB serial adapter
delivers them), so the server's CPU is measured alone. The server runs as its own process,
exactly as ``farmctl serve --config farm.toml`` runs on a Pi. This process is the clients:
pollers that GET a printer's ``/api/job`` and ``/api/printer`` in turn (each poll the next
printer), and push listeners on ``/printers/<name>/sockjs/websocket``.

It first measures the server under the client load with every printer idle, then starts the same
job on every printer at once and measures until the last one is done. Per printer: the ledger
(every job command executed exactly once, in order, no stray tail of a flushed line: from the
simulator's own record), planner starvation and wire use. For the farm: API latency, push
intervals, server CPU per acknowledged line and peak RSS, each against the goal it reports on.

    python bench/farm_load.py                       # 16 printers, 4,000 lines each
    python bench/farm_load.py --printers 4 --lines 1000
    python bench/farm_load.py --baseline-tree DIR   # first the server from another checkout, same load
    python bench/farm_load.py --serial-workers 0 --serial-workers 2   # in-process reactor, then 2 workers
    python bench/farm_load.py --gather-ms 0 --gather-ms 1             # the reactor waking for every reply, then gathering

With serial workers (farm.toml's ``serial_workers``) the server's CPU and peak RSS are those of its
main process and its workers together (the RSS a sum of each process's peak: an upper bound), and
the main process's share is reported too.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue: take bench/ off sys.path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402

from farmctl.job import read_job  # noqa: E402
from farmctl.sim.jobs import write_curves  # noqa: E402
from farmctl.sim.process import ProcessReport, SimulatorProcess  # noqa: E402
from farmctl.sim.records import Executed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JOB_NAME = "farm-load.gcode"
HOST_COMMANDS = frozenset({"M105", "M110 N0", "M115", "M155 S2", "M876 P1"})
"""What the printer sends on its own (handshake, autoreport, prompt support, polls and tickles)."""
GOALS = {"cpu_ms_per_line": 0.07, "api_p99_ms": 50.0, "starved_pct": 1.0, "rss_mb": 77.0}
TICKS = os.sysconf("SC_CLK_TCK")
JOBS = {  # name: (shortest, longest segment in mm, time scale)
    "curves": (0.1, 0.3, 1.0),
    "dense": (0.10, 0.138, 1.0),
    "wire-bound": (0.1, 0.3, 0.0),
}


# -- the server process -----------------------------------------------------------------------

class Server:
    """``farmctl serve`` in a child process; its CPU and peak RSS are read from /proc."""

    def __init__(self, config: Path, data: Path, port: int, tree: Path = ROOT, hot_loop: str | None = None) -> None:
        env = dict(os.environ, PYTHONPATH=str(tree) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if hot_loop is not None:
            env["FARMCTL_HOT_LOOP"] = hot_loop
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "farmctl", "serve", "--config", str(config), "--data", str(data),
             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.key = self._read_key()

    def _read_key(self, timeout: float = 30.0) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            line = self.process.stdout.readline() if ready else ""
            if found := re.search(r"admin API key (\S+)", line):
                return found.group(1)
            if not line and self.process.poll() is not None:
                break
        self.process.kill()
        raise SystemExit(f"farmctl serve did not start: {self.process.communicate()[1].strip()}")

    def workers(self) -> list[int]:
        """The serial workers: the server's child processes (none with the in-process reactor)."""
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds of the main process and of its serial workers, so far."""
        return _cpu(self.process.pid), sum(_cpu(pid) for pid in self.workers())

    def peak_rss_mb(self) -> float:
        """The main process's peak RSS plus each worker's."""
        return sum(_peak_rss(pid) for pid in (self.process.pid, *self.workers()))

    def pss_mb(self) -> float:
        """The memory of the main process and its workers together now, shared pages split between them."""
        return sum(_status_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in (self.process.pid, *self.workers())) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # gone meanwhile
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _peak_rss(pid: int) -> float:
    return _status_kb(f"/proc/{pid}/status", "VmHWM:") / 1024


def _status_kb(path: str, key: str) -> float:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, sims: list[SimulatorProcess], baud: int, farm_wide: dict[str, float]) -> None:
    tables = [f"{key} = {value}\n" for key, value in farm_wide.items()] + [f'[[printers]]\nname = "p{i:02d}"\nport = "{sim.path}"\nbaud = {baud}\nprofile = "marlin2"\n'
              for i, sim in enumerate(sims)]
    path.write_text("\n".join(tables))


# -- the clients ---------------------------------------------------------------------------------

@dataclass
class Observed:
    """What the clients saw, shared by all of them."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"job": [], "printer": []})
    failures: list[str] = field(default_factory=list)
    done_at: dict[str, float] = field(default_factory=dict)  # printer: first poll that saw its print over
    push_gaps: list[float] = field(default_factory=list)
    pushes: int = 0
    printing: bool = False


async def poller(http: aiohttp.ClientSession, base: str, names: list[str], start: int, hz: float,
                 seen: Observed, stop: asyncio.Event) -> None:
    """One client: every 1/hz s the next printer's /api/job, then the next one's /api/printer, ..."""
    period, turn = 1.0 / hz, start
    next_at = time.monotonic() + period * (start % 10) / 10  # spread the pollers over a period
    while not stop.is_set():
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += period
        name, kind = names[turn % len(names)], ("job", "printer")[(turn // len(names)) % 2]
        turn += 1
        began = time.perf_counter()
        try:
            async with http.get(f"{base}/printers/{name}/api/{kind}") as response:
                body = await response.read()
                status = response.status
        except aiohttp.ClientError as exc:
            seen.failures.append(f"{kind} {name}: {exc}")
            continue
        seen.latencies[kind].append(time.perf_counter() - began)
        if status != 200:
            seen.failures.append(f"{kind} {name}: HTTP {status}")
        elif kind == "job" and seen.printing and name not in seen.done_at:
            job = json.loads(body)
            if job["state"] == "Operational" and job["progress"]["completion"] == 100:
                seen.done_at[name] = time.monotonic()


async def listener(http: aiohttp.ClientSession, base: str, name: str, auth: str,
                   seen: Observed, stop: asyncio.Event) -> None:
    """A push client that logs in and takes every message; records the gaps between ``current`` s."""
    async with http.ws_connect(f"{base}/printers/{name}/sockjs/websocket") as ws:
        await ws.send_str(json.dumps({"auth": auth}))
        last: float | None = None
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.receive(), 1.0)
            except asyncio.TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                seen.failures.append(f"push {name}: {message.type.name}")
                return
            if "current" in json.loads(message.data):
                now = time.monotonic()
                seen.pushes += 1
                if last is not None and seen.printing:
                    seen.push_gaps.append(now - last)
                last = now


async def wait_until_ready(http: aiohttp.ClientSession, base: str, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            async with http.get(f"{base}/printers/{name}/api/printer") as response:
                if response.status == 200:
                    waiting.discard(name)
        await asyncio.sleep(0.5)
    if waiting:
        raise SystemExit(f"printers not operational after {timeout:.0f} s: {sorted(waiting)}")


@dataclass(frozen=True)
class Window:
    idle_cpu_s: float
    idle_s: float
    print_cpu_s: float
    print_s: float
    print_main_cpu_s: float  # the main process's share of print_cpu_s
    idle_main_cpu_s: float
    workers: int
    pss_mb: float
    rss_mb: float
    client_cpu_s: float  # this process, over the printing


async def drive(server: Server, names: list[str], job: Path, args: argparse.Namespace, seen: Observed) -> Window:
    base = f"http://127.0.0.1:{server.port}"
    headers = {"X-Api-Key": server.key}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        await wait_until_ready(http, base, names)
        form = aiohttp.FormData()
        form.add_field("file", job.read_bytes(), filename=JOB_NAME)
        async with http.post(f"{base}/printers/{names[0]}/api/files/local", data=form) as response:
            assert response.status == 201, await response.text()
        async with http.post(f"{base}/api/login", json={"passive": True}) as response:
            user = await response.json()
        auth = f"{user['name']}:{user['session']}"
        stop = asyncio.Event()
        clients = [asyncio.create_task(poller(http, base, names, i, args.poll_hz, seen, stop))
                   for i in range(args.pollers)]
        clients += [asyncio.create_task(listener(http, base, names[i % len(names)], auth, seen, stop))
                    for i in range(args.listeners)]
        await asyncio.sleep(1.0)  # the clients have connected and settled
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        cpu1, t1, client0 = server.cpu_seconds(), time.monotonic(), time.process_time()
        workers = len(server.workers())
        for kind in seen.latencies:  # the idle phase only measured the CPU baseline
            seen.latencies[kind].clear()
        seen.printing = True
        for name in names:
            async with http.post(f"{base}/printers/{name}/api/files/local/{JOB_NAME}",
                                 json={"command": "select", "print": True}) as response:
                assert response.status == 204, await response.text()
        while len(seen.done_at) < len(names):
            await asyncio.sleep(0.2)
            if time.monotonic() - t1 > args.timeout:
                raise SystemExit(f"prints not done after {args.timeout:.0f} s: "
                                 f"{sorted(set(names) - set(seen.done_at))}")
        cpu2, t2 = server.cpu_seconds(), max(seen.done_at.values())
        rss, pss = server.peak_rss_mb(), server.pss_mb()
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
    return Window(sum(cpu1) - sum(cpu0), t1 - t0, sum(cpu2) - sum(cpu1), t2 - t1, cpu2[0] - cpu1[0],
                  cpu1[0] - cpu0[0], workers, pss, rss, time.process_time() - client0)


# -- the ledger and the report --------------------------------------------------------------------

@dataclass(frozen=True)
class Ledger:
    exact: bool
    problem: str
    seconds: float  # first to last job command executed


def check_ledger(executed: list[Executed], expected: list[str]) -> Ledger:
    """Every job command ran once, in order, numbered, and no flushed line's tail ran."""
    numbered = [e for e in executed if e.numbered]
    numbers = [e.line_number for e in numbered]
    job = [e for e in numbered if e.command not in HOST_COMMANDS]
    seconds = job[-1].at - job[0].at if len(job) > 1 else 0.0
    stray = [e.command for e in executed if not e.numbered and e.command[:1] in "GMT"]
    if numbers != sorted(set(numbers)):
        return Ledger(False, "a line number ran twice or out of order", seconds)
    if stray:
        return Ledger(False, f"unnumbered tails ran: {stray[:3]}", seconds)
    commands = [e.command for e in job]
    if commands != expected:
        first = next((i for i, (a, b) in enumerate(zip(commands, expected)) if a != b), min(len(commands), len(expected)))
        return Ledger(False, f"{len(commands)} of {len(expected)} commands; first difference at {first}", seconds)
    return Ledger(True, "", seconds)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def verdict(value: float, goal: float) -> str:
    return "meets" if value <= goal else "misses"


def report(names: list[str], reports: list[ProcessReport], expected: list[str], args: argparse.Namespace,
           window: Window, seen: Observed, needed: float) -> dict[str, float]:
    """Print the tables; returns the figures a comparison with a baseline run needs."""
    print(f"\n{'printer':8} {'ledger':8} {'lines':>6} {'print s':>8} {'lines/s':>8} {'starved':>8} {'wire%':>6} "
          f"{'errors':>6}")
    starved_pcts, exact = [], 0
    for name, sim in zip(names, reports):
        assert sim.executed is not None
        ledger = check_ledger(sim.executed, expected)
        exact += ledger.exact
        seconds = ledger.seconds or float("nan")
        starved = 100 * sim.stats.planner_starved_s / seconds if JOBS[args.job][2] else 0.0
        starved_pcts.append(starved)
        wire = 100 * sim.stats.bytes_received / (args.baud / 10 * seconds)
        print(f"{name:8} {'exact' if ledger.exact else 'WRONG':8} {len(expected):>6} {seconds:>8.1f} "
              f"{len(expected) / seconds:>8.0f} {starved:>7.2f}% {wire:>5.1f}% {sim.stats.errors:>6}"
              + (f"  {ledger.problem}" if ledger.problem else ""))
    lines = len(expected) * len(names)
    idle_rate = window.idle_cpu_s / window.idle_s
    per_line = window.print_cpu_s / lines * 1000
    marginal = (window.print_cpu_s - idle_rate * window.print_s) / lines * 1000
    every = seen.latencies["job"] + seen.latencies["printer"]
    p99 = percentile(every, 0.99) * 1000
    worst_starved = max(starved_pcts)
    print(f"\n{len(names)} printers, {args.job} job ({needed:.0f} lines/s needed)" if JOBS[args.job][2] else
          f"\n{len(names)} printers, wire-bound job", end="")
    print(f", {args.baud} baud, {args.pollers} pollers at {args.poll_hz:g} Hz, {args.listeners} push listeners")
    print(f"ledgers exact: {exact} of {len(names)}" + ("" if exact == len(names) else "  <-- WRONG"))
    print(f"planner starvation: worst {worst_starved:.2f} %, mean {statistics.mean(starved_pcts):.2f} % "
          f"(goal <= {GOALS['starved_pct']:g} %: {verdict(worst_starved, GOALS['starved_pct'])})")
    for kind, values in seen.latencies.items():
        print(f"API /api/{kind:8} {len(values):>6} requests: p50 {percentile(values, 0.5) * 1000:6.1f} ms, "
              f"p99 {percentile(values, 0.99) * 1000:6.1f} ms, max {max(values, default=float('nan')) * 1000:6.1f} ms")
    print(f"API p99, all requests: {p99:.1f} ms (goal < {GOALS['api_p99_ms']:g} ms: {verdict(p99, GOALS['api_p99_ms'])})")
    print(f"push: {seen.pushes} current messages; interval while printing p50 {percentile(seen.push_gaps, 0.5):.3f} s, "
          f"p99 {percentile(seen.push_gaps, 0.99):.3f} s (0.5 s asked)")
    print(f"server CPU: {idle_rate * 100:.1f} % of a core with the clients and idle printers; "
          f"{window.print_cpu_s / window.print_s * 100:.1f} % while printing ({window.print_s:.1f} s)")
    main_per_line = window.print_main_cpu_s / lines * 1000
    main_marginal = (window.print_main_cpu_s - window.idle_main_cpu_s / window.idle_s * window.print_s) / lines * 1000
    if window.workers:
        print(f"of which the main process: {window.print_main_cpu_s / window.print_s * 100:.1f} % of a core, "
              f"{main_per_line:.3f} ms per line, {main_marginal:.3f} ms beyond the idle clients' share; "
              f"{window.workers} serial workers the rest")
    print(f"server CPU per acknowledged line: {per_line:.3f} ms (goal <= {GOALS['cpu_ms_per_line']:g} ms: "
          f"{verdict(per_line, GOALS['cpu_ms_per_line'])}); beyond the idle clients' share: {marginal:.3f} ms")
    print(f"server peak RSS: {window.rss_mb:.1f} MB (goal < {GOALS['rss_mb']:g} MB: {verdict(window.rss_mb, GOALS['rss_mb'])})"
          + (f", the sum of {window.workers + 1} processes' peaks; their PSS together at the end: {window.pss_mb:.1f} MB"
             if window.workers else ""))
    simulators = sum(sim.cpu_seconds for sim in reports)
    print(f"the rest of the machine: simulators {simulators:.1f} CPU s in all, clients {window.client_cpu_s:.1f} CPU s "
          f"while printing; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if seen.failures:
        print(f"client failures: {len(seen.failures)}, e.g. {seen.failures[:3]}")
    return {"API p50 ms": percentile(every, 0.5) * 1000, "API p99 ms": p99, "CPU ms/line": per_line,
            "main CPU ms/line": main_per_line, "main marginal ms/line": main_marginal,
            "PSS at end MB": window.pss_mb, "cores while printing": window.print_cpu_s / window.print_s,
            "peak RSS MB": window.rss_mb, "worst starvation %": worst_starved, "ledgers exact": float(exact)}


def run(tree: Path, args: argparse.Namespace, farm_wide: dict[str, float] | None = None,
        hot_loop: str | None = None) -> dict[str, float]:
    """One whole run against the server from ``tree``: simulators, server, load, report."""
    min_mm, max_mm, time_scale = JOBS[args.job]
    names = [f"p{i:02d}" for i in range(args.printers)]
    with tempfile.TemporaryDirectory(prefix="farm-load-") as tmp:
        workdir = Path(tmp)
        job = workdir / JOB_NAME
        needed = write_curves(job, args.lines, min_mm, max_mm)
        expected = [line.command for line in read_job(job)]
        sims = [SimulatorProcess("marlin2", baud=args.baud, latency=0.002, time_scale=time_scale,
                                 record_executed=True) for _ in names]
        with contextlib.ExitStack() as stack:
            for sim in sims:
                stack.enter_context(sim)
            write_config(workdir / "farm.toml", sims, args.baud, farm_wide or {})
            server = Server(workdir / "farm.toml", workdir / "data", free_port(), tree, hot_loop)
            seen = Observed()
            try:
                window = asyncio.run(drive(server, names, job, args, seen))
            finally:
                server.stop()
            reports = [sim.stop() for sim in sims]
    return report(names, reports, expected, args, window, seen, needed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, default=16)
    parser.add_argument("--lines", type=int, default=4000, help="job lines per printer (default %(default)s)")
    parser.add_argument("--job", choices=sorted(JOBS), default="curves")
    parser.add_argument("--baud", type=int, default=250000)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--poll-hz", type=float, default=4.0)
    parser.add_argument("--listeners", type=int, default=8)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="client load with idle printers, for the CPU baseline")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--baseline-tree", type=Path, metavar="DIR",
                        help="first run the server from this farmctl source tree (e.g. `git archive main`), same load")
    parser.add_argument("--serial-workers", type=int, action="append", metavar="N",
                        help="repeatable: run this tree's server with farm.toml's serial_workers = N, each in turn "
                             "under the same load (0: the in-process reactor); the first is the baseline")
    parser.add_argument("--gather-ms", type=float, action="append", metavar="MS",
                        help="repeatable: farm.toml's serial_gather_ms = MS, each in turn (with every --serial-workers)")
    parser.add_argument("--hot-loop", action="append", choices=["c", "python", "off"],
                        help="repeatable: the server's FARMCTL_HOT_LOOP, each in turn (with every setting above)")
    args = parser.parse_args()
    if args.serial_workers or args.gather_ms or args.hot_loop:
        designs = [({**({} if workers is None else {"serial_workers": workers}),
                     **({} if gather is None else {"serial_gather_ms": gather})}, hot_loop)
                   for workers in args.serial_workers or [None] for gather in args.gather_ms or [None]
                   for hot_loop in args.hot_loop or [None]]
        results = {}
        for farm_wide, hot_loop in designs:
            label = ", ".join([f"{key} = {value:g}" for key, value in farm_wide.items()]
                              + ([] if hot_loop is None else [f"hot loop {hot_loop}"]))
            print(f"\n== {label}")
            results[label] = run(ROOT, args, farm_wide, hot_loop)
        compare(results)
        return
    if args.baseline_tree is None:
        run(ROOT, args)
        return
    print(f"== baseline: the server from {args.baseline_tree}")
    before = run(args.baseline_tree.resolve(), args)
    print(f"\n== this tree: {ROOT}")
    after = run(ROOT, args)
    print("\nthis tree against the baseline, same load, same run:")
    for name, value in after.items():
        print(f"  {name:20} {before[name]:8.3f} -> {value:8.3f}  ({value / before[name]:.2f} x)" if before[name] else
              f"  {name:20} {before[name]:8.3f} -> {value:8.3f}")


def compare(results: dict[str, dict[str, float]]) -> None:
    """The designs side by side, each figure also as a ratio to the first design's."""
    designs = list(results)
    first = results[designs[0]]
    width = max(22, *(len(n) + 2 for n in designs))
    print(f"\nside by side, same load, same run (x: against {designs[0]})")
    print(f"{'':22}" + "".join(f"{n:>{width}}" for n in designs))
    for name in first:
        cells = []
        for n in designs:
            value = results[n][name]
            ratio = f" ({value / first[name]:.2f} x)" if first[name] and n != designs[0] else ""
            cells.append(f"{value:.3f}{ratio}")
        print(f"{name:22}" + "".join(f"{cell:>{width}}" for cell in cells))


if __name__ == "__main__":
    main()
