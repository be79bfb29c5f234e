"""``farmctl print FILE --port PORT``: stream one file to one printer with a progress bar.

The printer's modules are imported when the command runs, so ``farmctl --help`` starts without them.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from farmctl.errors import FarmctlError

if TYPE_CHECKING:
    from farmctl.printer import JobProgress, JobResult, Printer

EXIT_CANCELLED = 3
EXIT_FAILED = 1


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--port", required=True, help="device path, pty path or pyserial URL")
    parser.add_argument("--baud", type=int, default=None, help="default: the firmware profile's")
    parser.add_argument("--profile", default=None, help="firmware profile (default: detected from M115)")
    parser.add_argument("--ping-pong", action="store_true", help="one line in flight at a time (for flaky boards)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(print_file(args.file, args.port, args.baud, args.profile, args.ping_pong))


def format_progress(progress: JobProgress, now: float) -> str:
    """``42.0% 1234/5000 lines 00:12 ETA 00:17 resends 3``"""
    elapsed = progress.elapsed(now)
    fraction = progress.fraction
    eta = elapsed * (1 - fraction) / fraction if fraction > 0.001 else None
    width = 24
    filled = int(width * fraction)
    bar = "#" * filled + "-" * (width - filled)
    return (f"[{bar}] {fraction * 100:5.1f}% {progress.acknowledged}/{progress.commands} lines "
            f"{_clock(elapsed)} ETA {_clock(eta) if eta is not None else '--:--'} resends {progress.resends}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


async def _ask(question: str) -> str:
    answer = await asyncio.to_thread(input, question)
    return answer.strip().lower()[:1]


async def _on_interrupt(printer: Printer, interactive: bool) -> None:
    """Ctrl-C: pause or cancel; without a terminal to ask, cancel. The print may end while the
    question is open: then there is nothing left to do."""
    from farmctl.printer import PrinterState

    if not interactive:
        _if_running(printer.cancel)
        return
    sys.stderr.write("\n")
    choice = await _ask("Pause or cancel the print? [p/c] ")
    if choice != "p":
        _if_running(printer.cancel)
        return
    if not _if_running(printer.pause):
        return
    while printer.state == PrinterState.PAUSING:
        await asyncio.sleep(0.05)
    choice = await _ask("Paused. Resume or cancel? [r/c] ")
    _if_running(printer.resume if choice == "r" else printer.cancel)


def _if_running(action: Callable[[], None]) -> bool:
    try:
        action()
    except FarmctlError:  # the print ended meanwhile
        return False
    return True


async def print_file(path: Path, port: str, baud: int | None, profile: str | None, ping_pong: bool = False) -> int:
    from farmctl.job import check_job
    from farmctl.printer import Printer
    from farmctl.protocol.gcode import MAX_LINE_LENGTH

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    checked = check_job(path, MAX_LINE_LENGTH)  # a missing or unsendable file is refused before the port is touched
    printer = Printer("printer", port, baud, profile, ping_pong=ping_pong)
    loop = asyncio.get_running_loop()
    interrupts: set[asyncio.Task[None]] = set()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        if not interrupts:
            task = loop.create_task(_on_interrupt(printer, interactive))
            interrupts.add(task)
            task.add_done_callback(interrupts.discard)

    await printer.connect()
    loop.add_signal_handler(signal.SIGINT, interrupt)
    loop.add_signal_handler(signal.SIGTERM, printer.cancel)
    try:
        try:
            job = await printer.start_print(path, checked)
        except FarmctlError:
            if not interrupted:
                raise
            print("farmctl: cancelled while the file was checked; nothing was sent", file=sys.stderr)
            return 3
        if not interactive:  # a log line for scripts and service logs: the file streams now
            print(f"printing {path.name} on {port}", flush=True)
        while not job.done():
            await asyncio.wait([job], timeout=0.2)
            if interactive and printer.progress and not interrupts:
                sys.stderr.write("\r" + format_progress(printer.progress, time.monotonic()))
                sys.stderr.flush()
        result = job.result()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        for task in interrupts:
            task.cancel()
        await printer.disconnect()
    return _report(result, printer, interactive)


def _report(result: JobResult, printer: Printer, interactive: bool) -> int:
    from farmctl.printer import JobOutcome

    if interactive:
        sys.stderr.write("\n")
    stats = printer.sender_stats
    summary = (f"{result.commands_acknowledged} lines in {result.seconds:.1f} s, "
               f"{stats.lines_resent} resent, {stats.resend_requests} resend requests")
    if result.outcome == JobOutcome.DONE:
        print(f"done: {summary}")
        return 0
    if result.outcome == JobOutcome.CANCELLED:
        print(f"farmctl: cancelled after {summary}; heaters off", file=sys.stderr)
        return EXIT_CANCELLED
    print(f"farmctl: print failed: {result.reason} ({summary})", file=sys.stderr)
    return EXIT_FAILED
