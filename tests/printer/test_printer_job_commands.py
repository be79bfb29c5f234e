"""Pause, resume, cancel and restart ask the printer, which alone knows whether they may happen now:
with no print each is a 409 that changes nothing, and a restart awaits the cancelled print's end."""

from __future__ import annotations

import asyncio

import pytest
from test_printer_over_pty import eventually, job_commands

from farmctl.errors import FarmctlError
from farmctl.job import check_job
from farmctl.printer import JobOutcome, PrinterState
from farmctl.protocol.gcode import MAX_LINE_LENGTH
from farmctl.sim import SimulatedPrinter


async def test_job_commands_without_a_print_are_409_and_change_nothing(connect, job_file) -> None:
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        for command in (printer.pause, printer.resume, printer.toggle_pause, printer.cancel):
            with pytest.raises(FarmctlError) as refused:
                command()
            assert refused.value.status == 409 and "no print job is running" in refused.value.message
        with pytest.raises(FarmctlError) as refused:
            await printer.cancel_paused(5)
        assert refused.value.status == 409 and "only a paused print" in refused.value.message
        assert printer.state == PrinterState.OPERATIONAL
        sim.action("cancel")  # the firmware asking with nothing to cancel is ignored
        await asyncio.sleep(0.2)
        assert printer.state == PrinterState.OPERATIONAL


async def test_toggle_then_restart_waits_for_the_cancelled_print(connect, job_file, write_job) -> None:
    write_job(job_file, 3000)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 20)
        with pytest.raises(FarmctlError):
            await printer.cancel_paused(5)  # printing, not paused
        printer.toggle_pause()
        await eventually(lambda: printer.state == PrinterState.PAUSED)
        printer.pause()  # already paused: nothing more to do, no error
        result = await printer.cancel_paused(10)
        assert result.outcome == JobOutcome.CANCELLED
        assert printer.state == PrinterState.OPERATIONAL  # ready for the file to start again at once
        assert (await asyncio.wait_for(job, 1)).outcome == JobOutcome.CANCELLED


async def test_a_print_trusts_an_earlier_check_only_while_the_file_is_unchanged(connect, job_file, write_job) -> None:
    """``farmctl print`` checks the file before it opens the port; the printer reads it again only if it changed."""
    expected = write_job(job_file, 40)
    checked = check_job(job_file, MAX_LINE_LENGTH)
    assert checked.commands == len(expected) and checked.still_holds(MAX_LINE_LENGTH)
    assert not checked.still_holds(MAX_LINE_LENGTH - 10), "a check against a longer limit was trusted"
    with job_file.open("a") as changed:
        changed.write("G1 X" + "1" * 120 + "\n")  # longer than any firmware takes
    assert not checked.still_holds(MAX_LINE_LENGTH)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        with pytest.raises(FarmctlError) as refused:
            await printer.start_print(job_file, checked)
        assert f"line {len(expected) + 1}: 137 characters" in refused.value.message
        assert printer.state == PrinterState.OPERATIONAL and job_commands(sim) == []

        expected = write_job(job_file, 40)
        done = await printer.start_print(job_file, check_job(job_file, MAX_LINE_LENGTH))
        result = await asyncio.wait_for(done, 30)
        assert result.outcome == JobOutcome.DONE and job_commands(sim) == expected
