"""MeatPack benchmark: job lines per second packed against unpacked, same simulator, same baud.

A Prusa-Firmware simulator (which unpacks MeatPack) in a child process, real wire timing, 2 ms reply
latency, each reply in a write of its own; a wire-bound job (moves take no time), so the wire is
what limits. Both runs in the same process, one after the other; the ratio is the gain.

    python bench/meatpack.py                  # 115200 baud, 5,000 lines
    python bench/meatpack.py --baud 250000 --lines 10000
"""

from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's queue: take bench/ off sys.path first.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from farmctl.job import read_job  # noqa: E402
from farmctl.printer import JobOutcome, Printer  # noqa: E402
from farmctl.sim.jobs import write_curves  # noqa: E402
from farmctl.sim.process import SimulatorProcess  # noqa: E402

HOST_COMMANDS = frozenset({"M105", "M110 N0", "M115", "M155 S2", "M876 P1"})


async def stream(port: str, job: Path, meatpack: bool) -> tuple[float, int, int]:
    printer = Printer("bench", port, profile="prusa-mk3", meatpack=meatpack, handshake_timeout=10)
    await printer.connect()
    began = time.perf_counter()
    result = await printer.print_file(job)
    seconds = time.perf_counter() - began
    stats = printer.sender_stats
    await printer.disconnect()
    if result.outcome != JobOutcome.DONE:
        raise SystemExit(f"bench run failed: {result.reason}")
    return seconds, stats.bytes_sent, stats.lines_resent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.gcode"
        write_curves(job, args.lines)
        expected = [line.command for line in read_job(job)]
        print(f"{args.lines} lines, wire-bound, prusa-mk3 simulator at {args.baud} baud, 2 ms reply latency\n")
        print(f"{'mode':10} {'lines/s':>8} {'x':>5} {'bytes/line':>10} {'wire%':>6} {'ledger':>7}")
        base = None
        for meatpack in (False, True):
            with SimulatorProcess("prusa-mk3", baud=args.baud, time_scale=0.0, record_executed=True) as sim:
                seconds, sent, resent = asyncio.run(stream(sim.path, job, meatpack))
                report = sim.stop()
            assert report.executed is not None
            ran = [e.command for e in report.executed if e.numbered and e.command not in HOST_COMMANDS]
            stray = [e for e in report.executed if not e.numbered]
            rate = len(expected) / seconds
            base = base or rate
            print(f"{'packed' if meatpack else 'plain':10} {rate:>8.0f} {rate / base:>5.2f} {sent / len(expected):>10.1f} "
                  f"{sent / (args.baud / 10 * seconds) * 100:>5.1f}% {'exact' if ran == expected and not stray else 'WRONG':>7}")


if __name__ == "__main__":
    main()
