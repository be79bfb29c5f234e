"""Serial workers: a worker killed with SIGKILL mid-print fails its prints with the reason and resumes
nothing; a new worker takes its place and the printers print again, exactly."""

import asyncio
import os
import signal

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
