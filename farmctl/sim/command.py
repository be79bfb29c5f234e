"""``farmctl sim``: run one simulated printer until Ctrl-C or SIGTERM.

Prints the port to open (the pty, or ``--link``) as its first line so a script or a benchmark
can start it as a child process and connect; ``--stats-json`` writes the counters on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from farmctl.profiles import DEFAULT_PROFILE, get_profile

DELIVERIES = ("lines", "bytes")
"""``Delivery``'s values, spelled here so that ``farmctl --help`` need not import the simulator."""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="firmware profile (default %(default)s)")
    parser.add_argument("--baud", type=int, default=None, help="wire speed with real timing (default: the profile's)")
    parser.add_argument("--full-speed", action="store_true", help="deliver bytes instantly instead of at the baud rate")
    parser.add_argument("--latency", type=float, default=2.0, metavar="MS", help="reply latency in ms (default 2)")
    parser.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                        help="multiply move, homing and heating times (0 = instant)")
    parser.add_argument("--delivery", choices=DELIVERIES, default=DELIVERIES[0],
                        help="replies to the host: each line in a write of its own, as USB adapters deliver them, "
                             "or whatever bytes arrived since the last wakeup (default %(default)s)")
    parser.add_argument("--link", type=Path, help="keep a symlink at this path pointing at the pty")
    parser.add_argument("--stats-json", type=Path, metavar="FILE", help="write counters here on exit")
    parser.add_argument("--executed", action="store_true", help="include every executed command in --stats-json")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--rx-corrupt", type=float, default=0.0, help="per-byte bit-flip rate, host to printer")
    faults.add_argument("--rx-drop", type=float, default=0.0, help="per-byte loss rate, host to printer")
    faults.add_argument("--tx-corrupt", type=float, default=0.0, help="per-byte bit-flip rate, printer to host")
    faults.add_argument("--tx-drop", type=float, default=0.0, help="per-byte loss rate, printer to host")
    faults.add_argument("--reset-after", type=int, default=None, metavar="N", help="reset after N commands")
    faults.add_argument("--unplug-after", type=int, default=None, metavar="N", help="unplug after N commands")
    faults.add_argument("--seed", type=int, default=0, help="random seed for the faults")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from farmctl.sim.printer import Delivery, Faults, SimulatedPrinter  # the simulator itself only when it runs

    profile = get_profile(args.profile)  # FarmctlError names the known profiles
    faults = Faults(args.rx_corrupt, args.rx_drop, args.tx_corrupt, args.tx_drop,
                    args.reset_after, args.unplug_after, args.seed)
    printer = SimulatedPrinter(profile, baud=args.baud, full_speed=args.full_speed, latency=args.latency / 1000.0,
                               time_scale=args.time_scale, faults=faults, link=args.link,
                               delivery=Delivery(args.delivery))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    cpu_start = time.process_time()
    printer.start()
    try:
        print(printer.port, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        stats = printer.stats
        executed = printer.executed if args.executed else None
        printer.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.stats_json is not None:
        report: dict[str, object] = {"profile": profile.name, "stats": stats.as_dict(),
                                     "cpu_seconds": time.process_time() - cpu_start}
        if executed is not None:
            report["executed"] = [record.as_dict() for record in executed]
        args.stats_json.write_text(json.dumps(report))
    print(f"farmctl sim: stopped after {stats.commands_executed} commands", file=sys.stderr)
    return 0
