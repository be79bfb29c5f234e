"""Serial workers: a worker killed with SIGKILL mid-print fails its prints with the reason and resumes
nothing; a new worker takes its place and the printers print again, exactly."""

import asyncio
import os
import signal
import socket

from farmctl.printer import JobOutcome, Printer, PrinterState
from farmctl.sim import SimulatedPrinter
from farmctl.workers import SerialWorkers
from test_printer_over_pty import eventually, job_commands
from test_streaming_property import check_ran_once_in_order


async def test_a_worker_killed_mid_print_fails_its_prints_with_the_reason_and_a_new_one_serves_them(
        tmp_path, write_job):
    job = tmp_path / "job.gcode"
    expected = write_job(job, 1500)
    workers = SerialWorkers(2)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim_a, \
            SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim_b, \
            SimulatedPrinter("marlin2", full_speed=True, time_scale=0) as sim_c:
        # dealt in turn: a and c share worker 0, b has worker 1
        printers = [Printer(name, sim.path, handshake_timeout=5, serving=workers)
                    for name, sim in (("a", sim_a), ("b", sim_b), ("c", sim_c))]
        try:
            await asyncio.gather(*(p.connect() for p in printers))
            killed = workers.processes[0].pid
            assert killed is not None and len(set(workers.pids)) == 2
            prints = [asyncio.create_task(p.print_file(job)) for p in printers]
            await eventually(lambda: all(len(job_commands(sim)) > 100 for sim in (sim_a, sim_b, sim_c)))
            os.kill(killed, signal.SIGKILL)
            a, c = await asyncio.wait_for(asyncio.gather(prints[0], prints[2]), 10)
            for result, printer in ((a, printers[0]), (c, printers[2])):
                assert result.outcome == JobOutcome.FAILED
                assert f"serial worker serving it (pid {killed}) died, killed by signal 9" in result.reason
                assert "will not be resumed" in result.reason
                assert printer.state == PrinterState.ERROR
            ran = {sim.path: len(sim.executed) for sim in (sim_a, sim_c)}
            await asyncio.sleep(0.3)
            for sim in (sim_a, sim_c):  # the firmware ran what it had; nothing more came, nothing twice
                assert len(sim.executed) == ran[sim.path]
                check_ran_once_in_order(sim.executed, expected, complete=False)
            b = await asyncio.wait_for(prints[1], 30)  # the other worker's printer printed on
            assert b.outcome == JobOutcome.DONE and job_commands(sim_b) == expected
            assert b.commands_acknowledged == len(expected) and printers[1].progress.fraction == 1.0

            await eventually(lambda: workers.processes[0].alive)  # restarted at once
            assert workers.processes[0].pid != killed and workers.processes[0].deaths == 1
            await printers[0].connect()  # as the farm's keeper does
            result = await asyncio.wait_for(printers[0].print_file(job), 30)
            assert result.outcome == JobOutcome.DONE
            assert job_commands(sim_a)[-len(expected):] == expected
        finally:
            for printer in printers:
                await printer.disconnect()
            await workers.close()
    assert not workers.pids


async def test_the_channel_carries_updates_whole_and_in_order_and_a_cut_stream_ends_it():
    from farmctl.job import FeedState
    from farmctl.protocol.events import Acknowledged, SenderStats
    from farmctl.protocol.replies import Reading, Temperatures
    from farmctl.workers import messages as m

    ours, theirs = socket.socketpair()
    reader, _our_writer = await asyncio.open_connection(sock=ours)  # kept: a dropped writer closes its socket
    _their_reader, writer = await asyncio.open_connection(sock=theirs)
    telemetry = m.Telemetry(SenderStats(lines_sent=7), True, ((3, True, b"N1 G28*18\n"),), (1, 40, 0), (0.2, False))
    sent = [m.Update(4, seq, FeedState.HELD if seq == 2 else None, "", telemetry,
                     (Acknowledged("G28", 1, ("cmd", seq)), Temperatures((Reading("T0", 20.5, 0.0),), 3.0)))
            for seq in range(1, 4)]
    for update in sent:
        m.write(writer, update)
    await writer.drain()
    writer.transport.write(b"\0\0\1\0partial")  # a message cut off by the worker's death
    writer.close()
    assert [await m.read(reader) for _ in sent] == sent
    assert await m.read(reader) is None


async def test_a_workers_log_records_reach_the_farms_log(tmp_path, caplog):
    workers = SerialWorkers(1)
    with SimulatedPrinter("marlin2", full_speed=True, time_scale=0, link=tmp_path / "printer-link") as sim:
        printer = Printer("logged", str(tmp_path / "printer-link"), handshake_timeout=5, serving=workers)
        try:
            await printer.connect()
            with caplog.at_level("INFO"):
                sim.unplug()
                await eventually(lambda: printer.state == PrinterState.ERROR)
                await eventually(lambda: any(r.name == "farmctl.link" for r in caplog.records))
        finally:
            await printer.disconnect()
            await workers.close()
    record = next(r for r in caplog.records if r.name == "farmctl.link")
    assert record.levelname == "WARNING"
    assert record.getMessage().startswith(f"serial worker 0: {tmp_path / 'printer-link'}: ")
