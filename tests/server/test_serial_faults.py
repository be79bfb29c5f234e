"""Faults on the wire, with a real ``farmctl serve`` and simulated printers at ``/dev/serial/by-id`` links.

Four printers print from the queue at once. One is unplugged mid-print (its link disappears) and
plugged back in on a new pty behind the same link; one stops answering (a hung board whose USB
stays up) and comes back; one resets its firmware mid-print; one prints on. Each faulted print is
recorded as failed, its queue stops with the reason, nothing is resumed, and the printer is
Operational again by itself; the fourth printer's file runs exactly once, line for line; the
server neither dies nor retries in a loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from server_helpers import Client, ServerProcess, finished, wait_until

from farmctl.farm.farm import RECONNECT_EVERY
from farmctl.sim import SimulatedPrinter

pytestmark = pytest.mark.timeout(90)

NAMES = ("unplugged", "hung", "reset", "healthy")
LINES = 6000


def job(lines: int) -> str:
    return "G28\n" + "".join(f"G1 X{(i * 7) % 200} Y{(i * 13) % 200} F9000\n" for i in range(lines))


def moves(sim: SimulatedPrinter) -> list[str]:
    return [e.command for e in sim.executed if e.numbered and e.command.startswith(("G1", "G28"))]


def settle_after_thaw(sim: SimulatedPrinter, quiet: float = 0.3, timeout: float = 5.0) -> None:
    """Wait until ``sim`` has run nothing new for ``quiet`` seconds (a host still sending never settles)."""
    deadline = time.monotonic() + timeout
    seen = len(sim.executed)
    while True:
        time.sleep(quiet)
        now = len(sim.executed)
        if now == seen:
            return
        assert time.monotonic() < deadline, f"the thawed printer kept running lines: {now - seen} in {quiet} s"
        seen = now


def printer_state(server: ServerProcess, key: str, name: str) -> dict:
    response = requests.get(f"{server.url}/printers/{name}/api/printer", headers={"X-Api-Key": key}, timeout=10)
    if response.status_code == 409:  # OctoPrint's answer while the printer is not connected
        return {"text": "not operational"}
    assert response.status_code == 200, response.text
    return response.json()["state"]


def test_unplug_hang_and_reset_mid_print_fail_clearly_and_recover_while_another_printer_prints_on(
        tmp_path: Path) -> None:
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    sims = {name: SimulatedPrinter("marlin2", full_speed=True, time_scale=0,
                                   link=by_id / f"usb-Marlin_{name}_0123-if00").start() for name in NAMES}
    config = "".join(f'[[printers]]\nname = "{name}"\nport = "{sim.port}"\nprofile = "marlin2"\n\n'
                     for name, sim in sims.items())
    server = ServerProcess(tmp_path, config)
    try:
        server.start()
        key = server.add_key("operator")
        headers = {"X-Api-Key": key}
        wait_until(lambda: all(printer_state(server, key, n)["text"] == "Operational" for n in NAMES), 20,
                   "every printer to connect")
        farm = Client(server.farm_cp, key)
        farm.no_hooks()
        for name in NAMES:  # one printer at a time takes the next job, so each prints its own file
            (server.uploads / f"{name}.gcode").write_text(job(LINES * 3 if name == "healthy" else LINES))
            response = farm.post("set/add", data={"path": f"{name}.gcode", "sd": False, "count": 1,
                                                  "jobName": name, "jobDraft": False})
            assert response.status_code == 200, response.text
            printer = Client(server.cp(name), key)
            assert printer.post("set_active", data={"active": True}).status_code == 200
            wait_until(lambda: printer.state()["status"] == "Printing", 10, f"{name} to print its file")
        wait_until(lambda: all(len(moves(sims[n])) > 300 for n in NAMES), 20, "every print to be under way")

        unplugged_at = time.monotonic()
        sims["unplugged"].unplug()
        sims["hung"].freeze()
        sims["reset"].reset()
        ran = {name: len(sims[name].executed) for name in ("unplugged", "reset")}
        reasons = {"unplugged": "port gone", "hung": "stopped answering", "reset": "will not be resumed"}

        def failed(name: str) -> bool:
            return reasons[name] in Client(server.cp(name), key).state()["status"]
        wait_until(lambda: failed("unplugged") and failed("reset"), 10, "the unplug and the reset to be seen")
        # three rounds of the 5 s stall timeout, each re-sending the window, before it is given up
        wait_until(lambda: failed("hung"), 35, "the hung printer to be given up")
        for name in ("unplugged", "hung", "reset"):
            status = Client(server.cp(name), key).state()["status"]
            assert status.startswith(f"Inactive: {name}.gcode failed: ") and reasons[name] in status, status
        assert len(sims["reset"].executed) - ran["reset"] < 20, "the reset printer was sent more of the print"

        time.sleep(1.0)  # unplugged a while: the farm retries now and then, not in a loop
        sims["unplugged"].replug()
        away = time.monotonic() - unplugged_at
        sims["hung"].thaw()
        # Thawed, the hung printer runs what already waited in its buffers (sent before it was given
        # up), as a real one would: only what comes after that counts as resumed.
        settle_after_thaw(sims["hung"])
        before = {name: len(moves(sims[name])) for name in ("unplugged", "hung", "reset")}
        wait_until(lambda: all(printer_state(server, key, n)["text"] == "Operational"
                               for n in ("unplugged", "hung", "reset")), 30, "the printers to come back by themselves")
        time.sleep(0.5)
        for name in ("unplugged", "hung", "reset"):
            assert len(moves(sims[name])) == before[name], f"{name}: the print was resumed blindly"
            printer = Client(server.cp(name), key).state()
            assert printer["active"] is False and reasons[name] in printer["status"], "the reason went away"
        results = {run["set_path"]: run["result"] for run in finished(farm.history())}
        results.pop("healthy.gcode", None)  # it may be done already: giving up the hung one takes a while
        assert results == {"unplugged.gcode": "failure", "hung.gcode": "failure", "reset.gcode": "failure"}
        wait_until(lambda: len(finished(farm.history())) == 4, 60, "the healthy printer to finish")
        assert finished(farm.history())[-1]["set_path"] == "healthy.gcode"
        assert finished(farm.history())[-1]["result"] == "success"
        assert moves(sims["healthy"]) == job(LINES * 3).splitlines(), "the healthy printer's print was disturbed"
        assert server.proc is not None and server.proc.poll() is None
        log = server.log()
        assert "Traceback" not in log, log
        retries = log.count("cannot open")
        assert retries <= away / RECONNECT_EVERY + 2, f"{retries} attempts to open a port missing for {away:.0f} s"
    finally:
        server.kill()
        for sim in sims.values():
            sim.stop()
