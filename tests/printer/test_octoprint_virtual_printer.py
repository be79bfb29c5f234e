"""farmctl's sender against OctoPrint's virtual printer, with its own built-in faults.

The virtual printer is OctoPrint's test firmware, written by OctoPrint's authors: its own
line-number and checksum rules, a 64-byte receive queue, ``wait`` when idle, and faults of its
own (a resend at line 100, a resend whose ``ok`` never comes at 105, a missing line number at 110,
a checksum mismatch at 115; ``resend_ratio`` forces a resend every few lines). Each file is
``M117`` markers between moves; the virtual printer echoes each marker it runs, so its answers
say which lines ran, in which order.

Two of its faults drop a line by its own hand, whatever the host does: ``resend_with_timeout``
asks for line 105 again yet counts it as taken (a copy is rejected, none runs), and
``resend_ratio`` counts a line as taken, then answers ``Checksum mismatch`` and asks for the
next. Those markers are not expected; every other one must run exactly once, in order.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

pytest.importorskip("octoprint", reason="the octoprint package (a test dependency) is not installed")

from octoprint_virtual import OctoPrintVirtualPrinter  # noqa: E402

from farmctl.printer import JobOutcome, Printer  # noqa: E402

pytestmark = pytest.mark.timeout(40)


def marked_job(path: Path, lines: int) -> list[str]:
    """A file of moves with an ``M117 L<n>`` marker after each; the markers, in order."""
    body = "".join(f"G1 X{n % 2} Y{n % 3} F6000\nM117 L{n}\n" for n in range(lines))  # its moves take real time
    path.write_text("G28\n" + body)
    return [f"L{n}" for n in range(lines)]


async def print_on(virtual: OctoPrintVirtualPrinter, job: Path):
    printer = Printer("virtual", virtual.path, handshake_timeout=10)
    await printer.connect()
    try:
        try:
            return printer, await asyncio.wait_for(printer.print_file(job), 10)
        except asyncio.TimeoutError:
            return printer, None
    finally:
        await printer.disconnect()


def dropped_by_the_printer(virtual: OctoPrintVirtualPrinter, options: dict) -> set[int]:
    """The line numbers the virtual printer counted as taken without running them (see above)."""
    if options.get("resend_ratio"):
        answered = virtual.answered
        return {int(after[len("Resend:"):]) - 1 for before, after in zip(answered, answered[1:])
                if before == "Error: Checksum mismatch" and after.startswith("Resend:")}
    return {105} if "simulated_errors" not in options else set()  # its built-in 105:resend_with_timeout


def marker_numbers(virtual: OctoPrintVirtualPrinter) -> dict[str, int]:
    """Each marker's line number, as the host sent it."""
    sent = (re.fullmatch(r"N(\d+) M117 (L\d+)\*\d+", line) for line in virtual.received)
    return {match[2]: int(match[1]) for match in sent if match}


@pytest.mark.parametrize("options, markers", [
    ({"simulated_errors": []}, 20),  # no fault: the harness and the oracle themselves
    ({}, 60),  # OctoPrint's built-in faults at lines 100, 105, 110 and 115
    ({"resend_ratio": 20, "simulated_errors": []}, 20),  # a forced resend every 5 lines
], ids=["no-faults", "built-in-errors", "forced-resends"])
async def test_every_line_runs_once_in_order_on_octoprints_virtual_printer(tmp_path, options, markers):
    job = tmp_path / "job.gcode"
    expected = marked_job(job, markers)
    with OctoPrintVirtualPrinter(**options) as virtual:
        printer, result = await print_on(virtual, job)
        answered = virtual.answered
        dropped = dropped_by_the_printer(virtual, options)
        numbers = marker_numbers(virtual)
    assert result is not None, "the print did not end within 10 s"
    assert result.outcome == JobOutcome.DONE, result.reason
    echoed = [line[len("echo:"):] for line in answered if line.startswith("echo:L")]
    assert echoed == [marker for marker in expected if numbers[marker] not in dropped], \
        "a line ran twice, out of order or not at all"
    if options.get("simulated_errors", True) or options.get("resend_ratio"):
        assert printer.sender_stats.resend_requests >= 1, "the faults did not happen: nothing was tested"
