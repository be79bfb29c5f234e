"""kill -9 of ``farmctl serve`` in the middle of a print, then a restart on the same data folder.

The first server runs its simulated printer in real time so the slow file (a minute of G4 dwells)
is certainly still printing when the process is killed; the restarts run at full speed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from server_helpers import Client, ServerProcess, farm_toml, finished, local_jobs, wait_until

pytestmark = pytest.mark.timeout(45)


def test_kill_during_a_print_then_restart_owes_that_copy_exactly_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, farm_toml("p1"), sim_speed="real")
    try:
        server.start()
        key = server.add_key("admin")
        cp = Client(server.cp(), key)
        cp.no_hooks()
        (server.uploads / "quick.gcode").write_text("M117 QUICK\n")
        (server.uploads / "slow.gcode").write_text("M117 SLOW\n" + "G4 S1\n" * 60)
        job_id = cp.post("set/add", data={"path": "quick.gcode", "sd": False, "count": 1, "jobName": "J",
                                          "jobDraft": False}).json()["job_id"]
        slow_set = cp.post("set/add", data={"path": "slow.gcode", "sd": False, "count": 1,
                                            "job": job_id}).json()["set_"]["id"]
        assert cp.post("set_active", data={"active": True}).status_code == 200

        def printing_slow() -> bool:
            state = cp.state()
            return state["status"] == "Printing" and state["queues"][0]["active_set"] == slow_set
        wait_until(printing_slow, 15, "the slow file to be printing")
        assert [(r["set_path"], r["result"]) for r in cp.history()] == [("slow.gcode", None),
                                                                     ("quick.gcode", "success")]
        server.kill()

        for restart in range(2):  # a second restart before anyone acts changes nothing
            server.start(sim_speed="fast")
            cp = Client(server.cp(), key)
            state = cp.state()
            assert state["active"] is False
            assert state["statusType"] == "NEEDS_ACTION"
            assert "slow.gcode" in state["status"] and "interrupted" in state["status"], state["status"]
            assert [(r["set_path"], r["result"]) for r in finished(cp.history())] == [
                ("quick.gcode", "success"), ("slow.gcode", "aborted")], f"after restart {restart + 1}"
            job = local_jobs(state)[0]
            assert job["acquired"] is False
            assert job["remaining"] == 1
            assert [(s["path"], s["remaining"], s["completed"]) for s in job["sets"]] == [
                ("quick.gcode", 0, 1), ("slow.gcode", 1, 0)]
            time.sleep(0.3)  # an inactive queue prints nothing on its own
            assert len(cp.history()) == 2
            server.stop()

        server.start(sim_speed="fast")
        cp = Client(server.cp(), key)
        state = cp.post("set_active", data={"active": True}).json()
        assert state["active"] is True
        assert "interrupted" not in state["status"]
        wait_until(lambda: len(finished(cp.history())) >= 3, 15, "the owed copy to print")
        time.sleep(0.3)  # and nothing after it
        assert [(r["set_path"], r["result"]) for r in finished(cp.history())] == [
            ("quick.gcode", "success"), ("slow.gcode", "aborted"), ("slow.gcode", "success")]
        job = local_jobs(cp.state())[0]
        assert job["remaining"] == 0 and job["count"] == 1 and job["acquired"] is False
        assert [(s["path"], s["remaining"], s["completed"]) for s in job["sets"]] == [
            ("quick.gcode", 0, 1), ("slow.gcode", 0, 1)]
    finally:
        server.kill()
