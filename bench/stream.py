"""Streaming benchmark: farmctl's send-ahead against its own strict ping-pong, on the simulator.

Each run streams a job through the real stack (Printer -> SerialLink -> pty) to a simulated
Marlin in a child process with real wire timing and 2 ms reply latency, so the host's CPU is
measured alone. Prints one table; ratios compare send-ahead with ping-pong in the same run.

    python bench/stream.py                # 20,000 lines, 115200 and 250000 baud
    python bench/stream.py --lines 5000   # quicker
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue, which asyncio imports lazily: running
# this file puts bench/ first on sys.path, so take that entry out before anything imports queue.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import math  # noqa: E402
import select  # noqa: E402
import tempfile  # noqa: E402
import termios  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import tty  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from farmctl.job import read_job  # noqa: E402
from farmctl.printer import JobOutcome, Printer  # noqa: E402
from farmctl.protocol.gcode import encode  # noqa: E402
from farmctl.sim import Faults  # noqa: E402
from farmctl.sim.jobs import write_curves  # noqa: E402
from farmctl.sim.process import SimulatorProcess  # noqa: E402


@dataclass(frozen=True)
class Job:
    name: str
    min_mm: float
    max_mm: float
    time_scale: float  # 0: moves take no time (wire-bound)
    noise: float = 0.0


JOBS = [
    Job("curves 0.1-0.3 mm", 0.1, 0.3, 1.0),
    Job("dense curves (420 lines/s)", 0.10, 0.138, 1.0),
    Job("wire-bound", 0.1, 0.3, 0.0),
    Job("noisy line, 1e-4/byte both ways", 0.1, 0.3, 1.0, noise=1e-4),
]


def write_job(path: Path, job: Job, lines: int, seed: int = 1) -> float:
    """The job's curve; returns the lines/s the moves need."""
    return write_curves(path, lines, job.min_mm, job.max_mm, seed)


async def stream(port: str, path: Path, ping_pong: bool) -> tuple[float, float, object, object]:
    printer = Printer("bench", port, profile="marlin2", ping_pong=ping_pong, handshake_timeout=10)
    await printer.connect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await printer.print_file(path)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    stats = printer.sender_stats
    await printer.disconnect()
    if result.outcome != JobOutcome.DONE:
        raise SystemExit(f"bench run failed: {result.reason}")
    return wall, cpu, stats, result


def run_one(job: Job, baud: int, lines: int, ping_pong: bool, workdir: Path) -> dict[str, float]:
    path = workdir / "job.gcode"
    needed = write_job(path, job, lines)
    faults = Faults(rx_corrupt=job.noise, tx_corrupt=job.noise, seed=7)
    with SimulatorProcess("marlin2", baud=baud, latency=0.002, time_scale=job.time_scale, faults=faults) as sim:
        wall, cpu, stats, result = asyncio.run(stream(sim.path, path, ping_pong))
        report = sim.stop()
    capacity = baud / 10
    return {
        "needed": needed if job.time_scale else float("nan"),
        "lines_s": result.commands_acknowledged / wall,
        "utilisation": stats.bytes_sent / (capacity * wall),
        "starved_s": report.stats.planner_starved_s,
        "resends": stats.lines_resent,
        "garbled": stats.garbled_replies,
        "stalls": stats.stalls,
        "cpu_10k": cpu / result.commands_acknowledged * 10_000,
        "wall": wall,
    }


def bare_loop(job: Job, baud: int, lines: int, workdir: Path, wakeable: bool) -> dict[str, float]:
    """The floor: a thread that only counts each ok and writes the next precomputed line, in the same
    window (4 lines, 127 bytes), on the same simulator. What one wakeup per line costs on this machine.

    ``wakeable`` waits in poll() on the port and a pipe, then reads without blocking, as a loop must
    that other threads can wake (farmctl's: a command, a pause); else it blocks in read()."""
    path = workdir / "job.gcode"
    write_job(path, job, lines)
    encoded = [encode(0, "M110 N0")] + [encode(n, line.command) for n, line in enumerate(read_job(path), 1)]
    with SimulatorProcess("marlin2", baud=baud, latency=0.002, time_scale=job.time_scale) as sim:
        fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        time.sleep(0.5)
        termios.tcflush(fd, termios.TCIFLUSH)
        timing: dict[str, float] = {}

        wake_r, wake_w = os.pipe()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        if wakeable:
            os.set_blocking(fd, False)

        def run() -> None:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            sent = acked = in_flight = 0
            sizes: list[int] = []
            rest = b""
            while acked < len(encoded):
                burst = []
                while sent < len(encoded) and len(sizes) < 4 and in_flight + len(encoded[sent]) <= 127:
                    burst.append(encoded[sent])
                    sizes.append(len(encoded[sent]))
                    in_flight += sizes[-1]
                    sent += 1
                if burst:
                    os.write(fd, b"".join(burst))
                if wakeable and not poller.poll(1000):
                    continue
                *replies, rest = (rest + os.read(fd, 4096)).split(b"\n")
                for reply in replies:
                    if reply.startswith(b"ok"):
                        in_flight -= sizes.pop(0)
                        acked += 1
            timing.update(cpu=time.process_time() - cpu0, wall=time.perf_counter() - wall0)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        for unused in (fd, wake_r, wake_w):
            os.close(unused)
        sim.stop()
    return {"lines_s": len(encoded) / timing["wall"], "cpu_10k": timing["cpu"] / len(encoded) * 10_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--baud", type=int, action="append", help="repeatable; default 115200 and 250000")
    parser.add_argument("--job", action="append", help="substring of a job name to run (repeatable)")
    args = parser.parse_args()
    bauds = args.baud or [115200, 250000]
    jobs = [j for j in JOBS if not args.job or any(s in j.name for s in args.job)]
    print(f"{args.lines} lines per run, marlin2 simulator in a child process, 2 ms reply latency\n")
    header = (f"{'job':32} {'baud':>6} {'mode':10} {'lines/s':>8} {'x':>5} {'wire%':>6} {'starved s':>9} "
              f"{'resent':>6} {'garbled':>7} {'stalls':>6} {'CPU s/10k':>9} {'wall s':>7}")
    print(header)
    print("-" * len(header))
    floors: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for job in jobs:
            for baud in bauds:
                pong = run_one(job, baud, args.lines, True, Path(tmp))
                ahead = run_one(job, baud, args.lines, False, Path(tmp))
                for mode, r in (("ping-pong", pong), ("send-ahead", ahead)):
                    ratio = r["lines_s"] / pong["lines_s"]
                    print(f"{job.name:32} {baud:>6} {mode:10} {r['lines_s']:>8.0f} {ratio:>5.2f} {r['utilisation'] * 100:>5.1f}% "
                          f"{r['starved_s']:>9.2f} {r['resends']:>6} {r['garbled']:>7} {r['stalls']:>6} "
                          f"{r['cpu_10k']:>9.3f} {r['wall']:>7.1f}")
                if not math.isnan(ahead["needed"]):
                    print(f"{'':32} {'':6} moves need {ahead['needed']:.0f} lines/s")
                if job.name == "wire-bound":
                    floors[baud] = (bare_loop(job, baud, args.lines, Path(tmp), wakeable=False),
                                    bare_loop(job, baud, args.lines, Path(tmp), wakeable=True), ahead)
    print("\nx = lines/s relative to ping-pong in the same run; wire% = bytes sent / (baud/10 x seconds)")
    if floors:
        print("\nCPU floor: a bare thread that only counts oks and writes precomputed lines (same window, same job),")
        print("blocking in read(), or waiting in poll() as a thread others can wake must")
        for baud, (blocking, wakeable, ahead) in floors.items():
            print(f"  {baud:>6} baud: read() {blocking['cpu_10k']:.3f}, poll() {wakeable['cpu_10k']:.3f} CPU s/10k; "
                  f"farmctl send-ahead {ahead['cpu_10k']:.3f} = {ahead['cpu_10k'] / wakeable['cpu_10k']:.1f} x the poll() floor")

if __name__ == "__main__":
    main()
