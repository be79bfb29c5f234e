"""Streaming benchmark: farmctl's send-ahead against strict ping-pong (OctoPrint's way), on the simulator.

The simulated Marlin runs in a child process with real wire timing and 2 ms reply latency, and writes
each reply line by itself once it has arrived (as a USB serial adapter hands over replies spaced ms
apart), so the host wakes once per reply as on real hardware; ``--delivery bytes`` hands over whatever
arrived since the simulator last woke instead, which reads cheaper than any real printer. Ratios
compare with ping-pong measured in the same run. Three parts:

* ``cli``: ``farmctl print`` as a process of its own, its whole CPU (start-up included) for a 2,000
  and a 20,000-line wire-bound job at 250000 baud; the difference over 18,000 lines is the marginal
  CPU per line, as an outside harness measures it. With each hot loop (``FARMCTL_HOT_LOOP``: the C
  loop, its Python fallback, and off, every reply on the general path), and both deliveries for the
  default, so the gap between them shows.
* ``usb``: a native-USB-like board (10 Mbaud, 1 ms, back-pressure): lines/s of ping-pong, of
  send-ahead within the RX ring and of send-ahead told the board is native USB (``marlin2-usb``).
* ``table``: the jobs below through the real stack in this process (Printer -> SerialLink -> pty):
  wire use, planner starvation, resends, CPU around the print, and a CPU floor.

    python bench/stream.py                        # every part, 20,000 lines a run
    python bench/stream.py --part cli --repeat 3  # the marginal CPU figures, three times
    python bench/stream.py --part table --lines 5000
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
import re  # noqa: E402
import select  # noqa: E402
import subprocess  # noqa: E402
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
from farmctl.sim import Delivery, Faults  # noqa: E402
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


def run_one(job: Job, baud: int, lines: int, ping_pong: bool, workdir: Path, delivery: Delivery) -> dict[str, float]:
    path = workdir / "job.gcode"
    needed = write_job(path, job, lines)
    faults = Faults(rx_corrupt=job.noise, tx_corrupt=job.noise, seed=7)
    with SimulatorProcess("marlin2", baud=baud, latency=0.002, time_scale=job.time_scale, faults=faults,
                          delivery=delivery) as sim:
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


def bare_loop(job: Job, baud: int, lines: int, workdir: Path, wakeable: bool, delivery: Delivery) -> dict[str, float]:
    """The floor: a thread that only counts each ok and writes the next precomputed line, in the same
    window (4 lines, 127 bytes), on the same simulator. What one wakeup per line costs on this machine.

    ``wakeable`` waits in poll() on the port and a pipe, then reads without blocking, as a loop must
    that other threads can wake (farmctl's: a command, a pause); else it blocks in read()."""
    path = workdir / "job.gcode"
    write_job(path, job, lines)
    encoded = [encode(0, "M110 N0")] + [encode(n, line.command) for n, line in enumerate(read_job(path), 1)]
    with SimulatorProcess("marlin2", baud=baud, latency=0.002, time_scale=job.time_scale, delivery=delivery) as sim:
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


HOST_COMMANDS = frozenset({"M105", "M110 N0", "M115", "M155 S2", "M876 P1", "M21", "M20", "M20 L"})
"""What farmctl sends on its own: the handshake, autoreport, prompt support, polls and the card."""


def print_process(path: Path, baud: int, latency: float, ping_pong: bool, delivery: Delivery, *,
                  board: str = "marlin2", profile: str = "marlin2", hot_loop: str = "") -> tuple[float, float]:
    """``farmctl print`` in a process of its own: its whole CPU (user + system, start-up included), and the
    seconds the print took by its own summary (start-up and handshake excluded, so lines/s is the stream's).
    ``board``: the simulator's firmware profile; ``profile``: the one farmctl is told; ``hot_loop``:
    ``FARMCTL_HOT_LOOP`` ("": farmctl's default)."""
    with SimulatorProcess(board, baud=baud, latency=latency, time_scale=0.0, delivery=delivery,
                          record_executed=True) as sim:
        command = [sys.executable, "-m", "farmctl", "print", str(path), "--port", sim.path, "--baud", str(baud),
                   "--profile", profile] + (["--ping-pong"] if ping_pong else [])
        env = dict(os.environ, FARMCTL_HOT_LOOP=hot_loop) if hot_loop else None
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        assert process.stdout is not None and process.stderr is not None
        out = process.stdout.read().decode(errors="replace")
        error = process.stderr.read().decode(errors="replace").strip()
        process.stdout.close()
        process.stderr.close()
        report = sim.stop()
    summary = re.search(r"done: (\d+) lines in ([\d.]+) s", out)
    if status != 0 or summary is None:
        raise SystemExit(f"farmctl print failed: {error or out}")
    assert report.executed is not None
    ran = [e.command for e in report.executed if e.numbered and e.command not in HOST_COMMANDS]
    if ran != [line.command for line in read_job(path)]:
        raise SystemExit(f"farmctl print with profile {profile} on a {board} board: the job did not run exactly once "
                         f"in order ({len(ran)} numbered job lines ran)")
    return usage.ru_utime + usage.ru_stime, float(summary.group(2))


def marginal_cli(workdir: Path, repeat: int) -> None:
    """Marginal CPU per acknowledged line of ``farmctl print``: (CPU of 20,000 lines - CPU of 2,000) / 18,000.

    ``farmctl print`` checks its file once, in its own process, before it opens the port (the
    check costs about 5.5 us per line, and counts in the marginal figure, as it would outside).
    """
    short, long = workdir / "short.gcode", workdir / "long.gcode"
    job = next(j for j in JOBS if j.name == "wire-bound")
    write_job(short, job, 2_000)
    write_job(long, job, 20_000)
    print("farmctl print, a process of its own, wire-bound job at 250000 baud, 2 ms reply latency:")
    print("whole-process CPU of a 2,000 and a 20,000-line job; marginal = the difference / 18,000 lines;")
    print("x off = marginal CPU relative to the general path (no hot loop) in the same mode and round\n")
    header = (f"{'replies delivered':21} {'hot loop':9} {'mode':10} {'CPU 2k s':>8} {'CPU 20k s':>9} {'lines/s':>8} "
              f"{'marginal ms/line':>16} {'x off':>6}")
    print(header)
    print("-" * len(header))
    runs = [(Delivery.LINES, "off", True), (Delivery.LINES, "off", False), (Delivery.LINES, "c", True),
            (Delivery.LINES, "c", False), (Delivery.LINES, "python", False), (Delivery.BYTES, "c", False)]
    for _ in range(repeat):
        off: dict[bool, float] = {}
        for delivery, hot_loop, ping_pong in runs:
            cpu_short, _ = print_process(short, 250000, 0.002, ping_pong, delivery, hot_loop=hot_loop)
            cpu_long, wall = print_process(long, 250000, 0.002, ping_pong, delivery, hot_loop=hot_loop)
            marginal = (cpu_long - cpu_short) / 18_000 * 1000
            if hot_loop == "off":
                off[ping_pong] = marginal
            name = "one line per write" if delivery is Delivery.LINES else "bytes as they arrive"
            print(f"{name:21} {hot_loop:9} {'ping-pong' if ping_pong else 'send-ahead':10} {cpu_short:>8.2f} "
                  f"{cpu_long:>9.2f} {20_000 / wall:>8.0f} {marginal:>16.3f} {marginal / off[ping_pong]:>6.2f}",
                  flush=True)
    print()


def native_usb(workdir: Path, lines: int, repeat: int) -> None:
    """A native-USB board: the line runs at USB speed (10 Mbaud here) and each reply takes about 1 ms.

    The board is the ``marlin2-usb`` simulator (back-pressure: bytes the ring has no room for wait
    instead of being dropped). Ping-pong is the baseline; send-ahead runs once with the window of a
    UART bridge (``--profile marlin2``: unacknowledged bytes within the 127-byte ring) and once told
    it is a native-USB board (``--profile marlin2-usb``: the ring plus the command queue's lines).
    """
    path = workdir / "usb.gcode"
    write_job(path, next(j for j in JOBS if j.name == "wire-bound"), lines)
    print(f"native-USB-like line (10 Mbaud, 1 ms reply latency, back-pressure), {lines} lines, farmctl print as a process;")
    print("lines/s (x ping-pong), whole-process CPU per line with start-up:")
    for _ in range(repeat):
        runs = [("ping-pong", True, "marlin2"), ("send-ahead, ring window", False, "marlin2"),
                ("send-ahead, marlin2-usb", False, "marlin2-usb")]
        measured = [print_process(path, 10_000_000, 0.001, ping_pong, Delivery.LINES, board="marlin2-usb", profile=profile)
                    for _, ping_pong, profile in runs]
        base = measured[0][1]
        print("  " + "   ".join(f"{name} {lines / wall:5.0f} ({base / wall:.2f} x, {cpu / lines * 1000:.3f} ms)"
                                for (name, _, _), (cpu, wall) in zip(runs, measured)), flush=True)
    print()


def table(jobs: list[Job], bauds: list[int], lines: int, delivery: Delivery, workdir: Path) -> None:
    print(f"{lines} lines per run, marlin2 simulator in a child process, 2 ms reply latency, "
          f"replies delivered {delivery.value}\n")
    header = (f"{'job':32} {'baud':>6} {'mode':10} {'lines/s':>8} {'x':>5} {'wire%':>6} {'starved s':>9} "
              f"{'resent':>6} {'garbled':>7} {'stalls':>6} {'CPU s/10k':>9} {'wall s':>7}")
    print(header)
    print("-" * len(header))
    floors: dict[int, tuple[dict[str, float], dict[str, float], dict[str, float]]] = {}
    for job in jobs:
        for baud in bauds:
            pong = run_one(job, baud, lines, True, workdir, delivery)
            ahead = run_one(job, baud, lines, False, workdir, delivery)
            for mode, r in (("ping-pong", pong), ("send-ahead", ahead)):
                ratio = r["lines_s"] / pong["lines_s"]
                print(f"{job.name:32} {baud:>6} {mode:10} {r['lines_s']:>8.0f} {ratio:>5.2f} {r['utilisation'] * 100:>5.1f}% "
                      f"{r['starved_s']:>9.2f} {r['resends']:>6} {r['garbled']:>7} {r['stalls']:>6} "
                      f"{r['cpu_10k']:>9.3f} {r['wall']:>7.1f}", flush=True)
            if not math.isnan(ahead["needed"]):
                print(f"{'':32} {'':6} moves need {ahead['needed']:.0f} lines/s")
            if job.name == "wire-bound":
                floors[baud] = (bare_loop(job, baud, lines, workdir, False, delivery),
                                bare_loop(job, baud, lines, workdir, True, delivery), ahead)
    print("\nx = lines/s relative to ping-pong in the same run; wire% = bytes sent / (baud/10 x seconds)")
    if floors:
        print("\nCPU floor: a bare thread that only counts oks and writes precomputed lines (same window, same job),")
        print("blocking in read(), or waiting in poll() as a thread others can wake must")
        for baud, (blocking, wakeable, ahead) in floors.items():
            print(f"  {baud:>6} baud: read() {blocking['cpu_10k']:.3f}, poll() {wakeable['cpu_10k']:.3f} CPU s/10k; "
                  f"farmctl send-ahead {ahead['cpu_10k']:.3f} = {ahead['cpu_10k'] / wakeable['cpu_10k']:.1f} x the poll() floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", action="append", choices=["cli", "usb", "table"], help="repeatable; default all")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the cli and usb parts")
    parser.add_argument("--lines", type=int, default=20_000, help="lines per run of the usb and table parts")
    parser.add_argument("--baud", type=int, action="append", help="table: repeatable; default 115200 and 250000")
    parser.add_argument("--job", action="append", help="table: substring of a job name to run (repeatable)")
    parser.add_argument("--delivery", choices=[d.value for d in Delivery], default=Delivery.LINES.value,
                        help="table: how the simulator hands replies over (default %(default)s)")
    args = parser.parse_args()
    parts = args.part or ["cli", "usb", "table"]
    jobs = [j for j in JOBS if not args.job or any(s in j.name for s in args.job)]
    with tempfile.TemporaryDirectory() as tmp:
        if "cli" in parts:
            marginal_cli(Path(tmp), args.repeat)
        if "usb" in parts:
            native_usb(Path(tmp), args.lines, args.repeat)
        if "table" in parts:
            table(jobs, args.baud or [115200, 250000], args.lines, Delivery(args.delivery), Path(tmp))


if __name__ == "__main__":
    main()
