"""A serial worker killed with SIGKILL mid-print, in a real ``farmctl serve`` with ``serial_workers = 2``.

The printer it served fails its print with the reason, its queue stops saying why, nothing is
resumed, and it is Operational again by itself on the worker that took the dead one's place; the
printer on the other worker prints on, line for line, once.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from server_helpers import Client, ServerProcess, finished, wait_until
from test_serial_faults import job, moves, printer_state

from farmctl.sim import SimulatedPrinter

pytestmark = pytest.mark.timeout(90)

LINES = 4000


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def serving(pid: int, pty: str) -> bool:
    """Whether process ``pid`` holds the port ``pty`` open."""
    fds = Path(f"/proc/{pid}/fd")
    return any(os.path.realpath(fd) == pty for fd in fds.iterdir() if fd.is_symlink())


def test_a_killed_worker_fails_its_printers_print_clearly_and_a_new_one_serves_it_again(tmp_path: Path) -> None:
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    sims = {name: SimulatedPrinter("marlin2", full_speed=True, time_scale=0,
                                   link=by_id / f"usb-Marlin_{name}_0123-if00").start() for name in ("killed", "other")}
    config = "serial_workers = 2\n\n" + "".join(
        f'[[printers]]\nname = "{name}"\nport = "{sim.port}"\nprofile = "marlin2"\n\n' for name, sim in sims.items())
    server = ServerProcess(tmp_path, config)
    try:
        server.start()
        assert server.proc is not None
        key = server.add_key("operator")
        wait_until(lambda: all(printer_state(server, key, n)["text"] == "Operational" for n in sims), 20,
                   "every printer to connect")
        workers = children(server.proc.pid)
        assert len(workers) == 2
        farm = Client(server.farm_cp, key)
        farm.no_hooks()
        for name in sims:
            (server.uploads / f"{name}.gcode").write_text(job(LINES))
            response = farm.post("set/add", data={"path": f"{name}.gcode", "sd": False, "count": 1,
                                                  "jobName": name, "jobDraft": False})
            assert response.status_code == 200, response.text
            printer = Client(server.cp(name), key)
            assert printer.post("set_active", data={"active": True}).status_code == 200
            wait_until(lambda: printer.state()["status"] == "Printing", 10, f"{name} to print its file")
        wait_until(lambda: all(len(moves(sim)) > 300 for sim in sims.values()), 20, "both prints to be under way")

        victim = next(pid for pid in workers if serving(pid, sims["killed"].path))
        assert not serving(victim, sims["other"].path), "the two printers were not dealt to two workers"
        os.kill(victim, signal.SIGKILL)
        reason = f"the serial worker serving it (pid {victim}) died, killed by signal 9"
        killed = Client(server.cp("killed"), key)
        wait_until(lambda: reason in killed.state()["status"], 10, "the killed worker's print to fail")
        status = killed.state()["status"]
        assert status.startswith("Inactive: killed.gcode failed: port gone: ") and "will not be resumed" in status

        wait_until(lambda: printer_state(server, key, "killed")["text"] == "Operational", 20,
                   "the printer to come back by itself on a new worker")
        replacement = [pid for pid in children(server.proc.pid) if pid not in workers]
        assert len(replacement) == 1 and serving(replacement[0], sims["killed"].path)
        ran = len(moves(sims["killed"]))
        time.sleep(0.5)
        assert len(moves(sims["killed"])) == ran, "the print was resumed blindly"
        assert moves(sims["killed"]) == job(LINES).splitlines()[:ran], "a line ran twice or out of order"
        assert killed.state()["active"] is False, "the queue went on after a lost print"

        wait_until(lambda: len(finished(farm.history())) == 2, 60, "the other printer to finish")
        results = {run["set_path"]: run["result"] for run in finished(farm.history())}
        assert results == {"killed.gcode": "failure", "other.gcode": "success"}
        assert moves(sims["other"]) == job(LINES).splitlines(), "the other worker's printer was disturbed"
        assert server.proc.poll() is None
        log = server.log()
        assert "Traceback" not in log, log
        assert f"serial worker 0: {reason}" in log or f"serial worker 1: {reason}" in log
    finally:
        server.kill()
        for sim in sims.values():
            sim.stop()
