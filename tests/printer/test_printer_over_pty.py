"""A printer driven over a real pty by farmctl's serial link, against the simulated firmware."""

import asyncio
import time

import pytest

from farmctl.errors import FarmctlError
from farmctl.printer import JobOutcome, PrinterState, Prompt
from farmctl.reactor import Reactor
from farmctl.sim import SimulatedPrinter
from network_bridge import NetworkBridge



async def eventually(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def job_commands(sim):
    return [e.command for e in sim.executed if e.numbered and e.command.startswith(("G1", "G28"))]


@pytest.mark.parametrize("profile, firmware", [
    ("marlin2", "Marlin 2."), ("marlin2-advanced-ok", "Marlin 2."), ("marlin1", "Marlin 1."), ("prusa-mk3", "Prusa-Firmware"),
])
async def test_profile_is_detected_from_m115_and_a_job_prints_exactly(connect, job_file, profile, firmware, write_job):
    expected = write_job(job_file, 150)
    with SimulatedPrinter(profile, full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        assert printer.firmware["FIRMWARE_NAME"].startswith(firmware)
        assert printer.profile.name == profile
        result = await printer.print_file(job_file)
        assert result.outcome == JobOutcome.DONE
        assert result.commands_acknowledged == len(expected)
        assert job_commands(sim) == expected
        assert printer.state == PrinterState.OPERATIONAL


async def test_forced_profile_wins_over_detection(connect):
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, profile="marlin1")
        assert printer.profile.name == "marlin1"


@pytest.mark.parametrize("board, overruns", [("marlin2-usb", False), ("marlin2", True)])
async def test_the_native_usb_window_prints_exactly_and_overruns_only_a_bridge_board(connect, job_file, board, overruns):
    # short moves at real speed, so the planner fills and the firmware stops reading its ring
    moves = [f"G1 X{index % 2 * 0.5:.1f} Y{index % 3 * 0.5:.1f} F6000" for index in range(300)]
    job_file.write_text("".join(f"{move}\n" for move in moves))
    with SimulatedPrinter(board, full_speed=True, time_scale=1.0) as sim:
        printer = await connect(sim.path, profile="marlin2-usb")
        result = await printer.print_file(job_file)
        assert result.outcome == JobOutcome.DONE
        assert job_commands(sim) == moves  # each once, in order, either way
        dropped = sim.inspect(lambda fw: fw.stats.bytes_dropped)
    assert (dropped > 0) == overruns
    assert (printer.sender_stats.lines_resent > 0) == overruns  # what naming marlin2-usb for a bridge board costs


async def test_autoreport_is_used_when_advertised_else_m105_polling(connect):
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        assert any(e.command == "M155 S2" for e in sim.executed)
    with SimulatedPrinter("marlin1", full_speed=True, time_scale=0, caps={"AUTOREPORT_TEMP": False}) as sim:
        printer = await connect(sim.path)
        assert not any(e.command.startswith("M155") for e in sim.executed)
        await eventually(lambda: printer.temperatures is not None, timeout=6)


async def test_firmware_reset_mid_print_stops_the_job_and_nothing_more_runs(connect, serving, job_file, write_job):
    write_job(job_file, 400)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 50)
        sim.reset()
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.FAILED
        assert "reset" in result.reason and "not be resumed" in result.reason
        ran = len(sim.executed)
        await asyncio.sleep(0.3)
        assert len(sim.executed) == ran
        assert printer.state == PrinterState.ERROR


async def test_unplug_gives_a_clear_error_and_reconnecting_works(connect, serving, job_file, tmp_path, write_job):
    expected = write_job(job_file, 400)
    link = tmp_path / "printer-link"
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0, link=link) as sim:
        printer = await connect(str(link), serving=serving)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 20)
        sim.unplug()
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.FAILED and result.reason.startswith("port gone")
        assert printer.state == PrinterState.ERROR
        sim.replug()
        await printer.connect()
        result = await printer.print_file(job_file)
        assert result.outcome == JobOutcome.DONE
        assert job_commands(sim)[-len(expected):] == expected


async def test_at_pause_holds_the_stream_until_resumed(connect, serving, job_file):
    job_file.write_text("G28\nG1 X1 F3000\n@pause\nG1 X2\nG1 X3\n")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: printer.state == PrinterState.PAUSED)
        await asyncio.sleep(0.2)
        assert job_commands(sim) == ["G28", "G1 X1 F3000"]
        printer.resume()
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.DONE
        assert job_commands(sim) == ["G28", "G1 X1 F3000", "G1 X2", "G1 X3"]


@pytest.mark.parametrize("action", ["pause", "paused"])
async def test_host_actions_from_the_printer_are_obeyed(connect, job_file, action, write_job):
    write_job(job_file, 3000)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 20)
        sim.action(action)
        await eventually(lambda: printer.state == PrinterState.PAUSED)
        ran = len(job_commands(sim))
        await asyncio.sleep(0.2)
        assert len(job_commands(sim)) == ran
        sim.action("resume")
        await eventually(lambda: printer.state == PrinterState.PRINTING)
        sim.action("cancel")
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.CANCELLED


async def test_cancel_stops_the_stream_and_turns_heaters_off(connect, serving, job_file, write_job):
    write_job(job_file, 3000, header="M104 S200\nM140 S60\nG28\n")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 20)
        printer.cancel()
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.CANCELLED
        commands = [e.command for e in sim.executed]
        assert len(job_commands(sim)) < 3000
        assert commands.index("M104 S0") > commands.index("M104 S200")
        assert "M140 S0" in commands
        assert sim.inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (0, 0)


async def test_emergency_stop_jumps_a_full_queue(connect):
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=1.0) as sim:
        printer = await connect(sim.path)
        with printer._link.control() as sender:
            for x in range(30):  # long moves keep the planner and queue full
                sender.submit(f"G1 X{x * 7} Y{x * 5} F600")
        await asyncio.sleep(0.3)
        await printer.command("M112")
        await eventually(lambda: sim.inspect(lambda fw: fw.halted))
        moved = sum(1 for e in sim.executed if e.command.startswith("G1"))
        assert moved < 30


async def test_commands_wait_for_their_ok_and_offline_is_refused(connect):
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        await printer.command("M104 S210 ; comment")
        assert sim.inspect(lambda fw: fw.hotend.target) == 210
        await printer.disconnect()
        with pytest.raises(FarmctlError, match="not operational"):
            await printer.command("M105")


async def test_no_answer_is_a_clear_error_not_a_hang(tmp_path):
    import os
    from farmctl.printer import Printer
    master, slave = os.openpty()
    try:
        printer = Printer("mute", os.ttyname(slave), handshake_timeout=1)
        with pytest.raises(FarmctlError, match="no answer"):
            await asyncio.wait_for(printer.connect(), 10)
        assert printer.state == PrinterState.ERROR
    finally:
        os.close(master)
        os.close(slave)


async def test_a_bad_line_is_refused_before_anything_is_sent(connect, job_file):
    job_file.write_text("G28\nM117 " + "x" * 100 + "\n")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        before = len(sim.executed)
        with pytest.raises(FarmctlError, match="line 2"):
            await printer.print_file(job_file)
        await asyncio.sleep(0.1)
        assert len(sim.executed) == before
        assert printer.state == PrinterState.OPERATIONAL


async def test_temperature_offsets_shift_the_files_targets_and_current_z_follows(connect, serving, job_file):
    job_file.write_text("M140 S60\nM104 S200\nG28\nG1 Z0.2 F600\nG1 X5 Y5\nG1 Z0.4\nG1 X6 Y6\nM104 S0\n")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        printer.set_temperature_offsets({"tool0": 5, "bed": -10})
        result = await printer.print_file(job_file)
        assert result.outcome == JobOutcome.DONE
        commands = [e.command for e in sim.executed if e.numbered and e.command.startswith(("M104", "M140"))]
        assert commands == ["M140 S50", "M104 S205", "M104 S0"]
        assert printer.current_z == 0.4
        job_file.write_text("G1 X1 Y1\n")  # a file with no Z move (a bed-clearing script, say)
        await printer.print_file(job_file)
        assert printer.current_z == 0.4  # the nozzle did not move in Z
        for command in ("G91", "G0 Z10", "G90"):  # a jog from the API
            await printer.command(command)
        assert printer.current_z == 10.4


async def test_the_terminal_shows_what_crossed_the_wire(connect, serving):
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        start = printer.terminal.seq
        await printer.command("M117 hello")
        await eventually(lambda: "Recv: ok" in printer.terminal.since(start).logs)
        lines = printer.terminal.since(start)
        sent = [line for line in lines.logs if line.startswith("Send: ")]
        assert any(line.startswith("Send: N") and " M117 hello*" in line for line in sent)
        assert "ok" in lines.messages and not any(m.startswith("Send") for m in lines.messages)


@pytest.mark.parametrize("rfc2217", [False, True], ids=["socket", "rfc2217"])
async def test_a_network_serial_bridge_prints_like_a_local_port(connect, job_file, write_job, rfc2217):
    """socket:// has a file descriptor of its own; rfc2217:// (ser2net, ESP-link) has none and is read by pyserial."""
    expected = write_job(job_file, 200)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim, NetworkBridge(sim.path, rfc2217) as bridge:
        printer = await connect(bridge.url, baud=115200)
        result = await printer.print_file(job_file)
        assert result.outcome == JobOutcome.DONE
        assert job_commands(sim) == expected


async def test_a_hung_printer_holds_up_neither_another_printer_nor_the_event_loop(connect, serving, tmp_path, write_job):
    job_a, job_b = tmp_path / "a.gcode", tmp_path / "b.gcode"
    expected_a, expected_b = write_job(job_a, 1500, seed=1), write_job(job_b, 400, seed=2)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim_a, \
            SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim_b:
        hung, healthy = await connect(sim_a.path, serving=serving), await connect(sim_b.path, serving=serving)
        print_a = asyncio.create_task(hung.print_file(job_a))
        await eventually(lambda: len(job_commands(sim_a)) > 50)
        sim_a.freeze()
        lags: list[float] = []

        async def measure_loop_lag() -> None:
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.01)
                lags.append(time.monotonic() - before - 0.01)

        lag = asyncio.create_task(measure_loop_lag())
        result_b = await asyncio.wait_for(healthy.print_file(job_b), 20)
        await asyncio.sleep(1.0)  # the hung printer gets its M105 tickle meanwhile
        lag.cancel()
        assert result_b.outcome == JobOutcome.DONE and job_commands(sim_b) == expected_b
        assert max(lags) < 0.2, f"the event loop stalled for {max(lags):.3f} s"
        assert hung.state == PrinterState.PRINTING and not print_a.done()
        sim_a.thaw()  # it comes back: the print finishes, every line once
        result_a = await asyncio.wait_for(print_a, 30)
        assert result_a.outcome == JobOutcome.DONE
        assert job_commands(sim_a) == expected_a


@pytest.mark.parametrize("emergency_parser", [True, False])
async def test_a_firmware_prompt_is_shown_and_answered_with_m876(connect, emergency_parser):
    caps = {"EMERGENCY_PARSER": emergency_parser}
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0, caps=caps) as sim:
        printer = await connect(sim.path)
        sim.prompt("Purge more?", ("Purge", "Continue"))
        await eventually(lambda: printer.prompt is not None)
        assert printer.prompt == Prompt("Purge more?", ("Purge", "Continue"))
        with pytest.raises(FarmctlError, match="not one of"):
            printer.answer_prompt(2)
        printer.answer_prompt(1)
        assert printer.prompt is None
        await eventually(lambda: sim.prompt_responses == [1])
        with pytest.raises(FarmctlError, match="not asking"):
            printer.answer_prompt(0)
        sim.prompt("Filament loaded?")
        await eventually(lambda: printer.prompt is not None)
        sim.action("prompt_end")  # answered on the printer's own screen
        await eventually(lambda: printer.prompt is None)


async def test_a_file_changed_under_a_running_print_stops_it_clearly_and_sends_no_bad_line(connect, job_file, write_job):
    expected = write_job(job_file, 3000, header="M104 S200\nG28\n")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path)
        job = asyncio.create_task(printer.print_file(job_file))
        await eventually(lambda: len(job_commands(sim)) > 20)
        with job_file.open("r+b") as handle:  # someone writes over the file's end in place
            handle.seek(job_file.stat().st_size // 2)
            handle.write(b"\nG1 X5 *42 ; not sendable\n")
        result = await asyncio.wait_for(job, 10)
        assert result.outcome == JobOutcome.FAILED
        assert "changed during the print" in result.reason and "'*'" in result.reason
        assert printer.state == PrinterState.OPERATIONAL  # the printer is fine and may print again
        ran = job_commands(sim)
        assert ran == expected[1:len(ran) + 1] and len(ran) < len(expected)  # what ran was the file, in order
        assert not any("*" in e.command for e in sim.executed)
        await eventually(lambda: sim.inspect(lambda fw: fw.hotend.target) == 0)


@pytest.mark.parametrize("hot_loop", ["c", "off"])
async def test_a_bug_in_the_reactor_fails_its_printers_with_a_reason_instead_of_hanging(
        connect, job_file, write_job, monkeypatch, hot_loop) -> None:
    """Nothing a reactor's pass raises may leave its ports served by nobody: each print fails, saying why."""
    monkeypatch.setenv("FARMCTL_HOT_LOOP", hot_loop)
    write_job(job_file, 3000)
    reactor = Reactor()
    passes = 0
    real_pass = Reactor._pass

    def buggy_pass(self, links, last_pass):
        nonlocal passes
        passes += 1
        if passes == 40:
            raise RuntimeError("a bug in the reactor")
        return real_pass(self, links, last_pass)

    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=reactor)
        monkeypatch.setattr(Reactor, "_pass", buggy_pass)
        result = await asyncio.wait_for(printer.print_file(job_file), 30)
        assert result.outcome == JobOutcome.FAILED
        assert result.reason.startswith("port gone") and "internal error in the serial reactor" in result.reason
        assert len(job_commands(sim)) < 3001, "the print ran to its end regardless"


async def test_the_event_loop_changing_the_sender_all_through_a_print_loses_nothing(
        connect, serving, job_file, write_job) -> None:
    """Every change the event loop makes stops a running burst first: hundreds of them, while the
    stream runs at full speed, and every job line still runs once, in order."""
    expected = write_job(job_file, 3000, header="")
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim:
        printer = await connect(sim.path, serving=serving)
        job = asyncio.create_task(printer.print_file(job_file))
        changes = 0
        while not job.done():
            printer.set_temperature_offsets({"bed": changes % 3})  # a link control, as the API's offset call makes
            if changes % 40 == 0:
                await printer.command("M105", timeout=10)  # a reply that is no plain ok, mid-stream
            changes += 1
            await asyncio.sleep(0)
        result = job.result()
        assert result.outcome == JobOutcome.DONE and changes > 100
        assert job_commands(sim) == expected
