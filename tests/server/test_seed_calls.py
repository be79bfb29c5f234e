"""The seed's three calls, exactly as Python's ``requests`` sends them, against a real server."""

from __future__ import annotations

import pytest
from server_helpers import Client, ServerProcess, local_jobs

pytestmark = pytest.mark.timeout(30)

STATE_KEYS = {"active", "status", "statusType", "profile", "queues"}
QUEUE_KEYS = {"name", "strategy", "jobs"}
JOB_KEYS = {"name", "count", "remaining", "draft", "acquired", "created", "id", "sets"}
SET_KEYS = {"path", "count", "remaining", "materials", "profiles", "sd"}


def check_state_shape(state: dict) -> None:
    assert STATE_KEYS <= state.keys()
    assert isinstance(state["active"], bool)
    assert isinstance(state["status"], str) and state["status"]
    assert state["statusType"] in ("INIT", "NORMAL", "NEEDS_ACTION", "ERROR")
    assert isinstance(state["profile"], str)
    assert [q["name"] for q in state["queues"]] == ["local", "LAN"]  # archive is hidden
    for queue in state["queues"]:
        assert QUEUE_KEYS <= queue.keys()
        assert queue["strategy"] == "IN_ORDER"
        for job in queue["jobs"]:
            assert JOB_KEYS <= job.keys()
            assert type(job["count"]) is int and type(job["remaining"]) is int and type(job["id"]) is int
            assert type(job["created"]) is int
            assert isinstance(job["draft"], bool) and isinstance(job["acquired"], bool)
            for item in job["sets"]:
                assert SET_KEYS <= item.keys()
                assert isinstance(item["sd"], bool)
                assert isinstance(item["materials"], list) and isinstance(item["profiles"], list)


def test_seed_calls_as_requests_sends_them(server: ServerProcess) -> None:
    cp = Client(server.cp(), server.keys["admin"])
    (server.uploads / "x.gcode").write_text("G28\nM117 x\n")

    # Start/stop managing the queue: active=False arrives as the form string "False".
    response = cp.post("set_active", data={"active": False})
    assert response.status_code == 200, response.text
    state = response.json()
    check_state_shape(state)
    assert state["active"] is False
    assert state["status"] == "Inactive (click Start Managing)"
    assert state["statusType"] == "INIT"
    assert state["profile"] == "marlin2"

    # Add a set with flat form fields (sd=False and jobDraft=False as the strings "False").
    response = cp.post("set/add", data={"path": "x.gcode", "sd": False, "count": 2, "jobName": "x",
                                        "jobDraft": False})
    assert response.status_code == 200, response.text
    added = response.json()
    assert set(added) == {"job_id", "set_"}
    assert type(added["job_id"]) is int
    assert SET_KEYS <= added["set_"].keys()
    assert added["set_"]["path"] == "x.gcode"
    assert added["set_"]["sd"] is False
    assert added["set_"]["count"] == 2 and added["set_"]["remaining"] == 2

    # Fetch the queue state.
    response = cp.get("state/get")
    assert response.status_code == 200
    state = response.json()
    check_state_shape(state)
    assert state["active"] is False
    jobs = local_jobs(state)
    assert len(jobs) == 1
    job = jobs[0]
    assert job["id"] == added["job_id"]
    assert job["name"] == "x"
    assert job["draft"] is False
    assert job["acquired"] is False
    assert job["count"] == 1 and job["remaining"] == 1
    assert len(job["sets"]) == 1
    item = job["sets"][0]
    assert {k: item[k] for k in SET_KEYS} == {"path": "x.gcode", "count": 2, "remaining": 2, "materials": [],
                                              "profiles": [], "sd": False}
    assert item == added["set_"]

    # set_active=True starts printing; with the default bed-clearing @pause the first copy prints
    # and the printer then waits for a person.
    response = cp.post("set_active", data={"active": True})
    assert response.status_code == 200
    assert response.json()["active"] is True


def test_set_add_default_draft_and_existing_job(server: ServerProcess) -> None:
    """jobDraft defaults to true; ``job`` appends to that job; an unknown ``job`` makes a new one."""
    cp = Client(server.cp(), server.keys["admin"])
    first = cp.post("set/add", data={"path": "a.gcode", "sd": False, "count": 1}).json()
    second = cp.post("set/add", data={"path": "b.gcode", "sd": False, "count": 3, "job": first["job_id"]}).json()
    assert second["job_id"] == first["job_id"]
    third = cp.post("set/add", data={"path": "c.gcode", "sd": False, "count": 1, "job": 9999}).json()
    assert third["job_id"] not in (first["job_id"], 9999)
    jobs = {j["id"]: j for j in local_jobs(cp.state())}
    assert jobs[first["job_id"]]["draft"] is True
    assert jobs[first["job_id"]]["name"] == "a"
    assert [s["path"] for s in jobs[first["job_id"]]["sets"]] == ["a.gcode", "b.gcode"]
    assert [s["path"] for s in jobs[third["job_id"]]["sets"]] == ["c.gcode"]


def test_json_field_form_of_set_add(server: ServerProcess) -> None:
    """The plugin's own web page sends ``json=<JSON text>``; the same result as flat fields."""
    cp = Client(server.cp(), server.keys["admin"])
    response = cp.post("set/add", data={"json": '{"path": "j.gcode", "sd": false, "count": 4, "jobName": "jj",'
                                                ' "jobDraft": false, "materials": ["PLA"]}'})
    assert response.status_code == 200, response.text
    job = local_jobs(cp.state())[0]
    assert job["name"] == "jj" and job["draft"] is False
    assert job["sets"][0]["count"] == 4 and job["sets"][0]["materials"] == ["PLA"]


def test_per_printer_and_farm_paths(farm2: ServerProcess) -> None:
    """Two printers, no default: plain paths are the farm's; each printer has its own state."""
    key = farm2.keys["admin"]
    p1 = Client(farm2.cp("p1"), key)
    farm = Client(farm2.farm_cp, key)
    plain = Client(farm2.cp(), key)
    assert p1.post("set_active", data={"active": True}).json()["active"] is True
    assert Client(farm2.cp("p2"), key).state()["active"] is False
    farm_state = farm.state()
    assert farm_state["active"] is False  # not every printer is active
    assert {p["name"]: p["active"] for p in farm_state["printers"]} == {"p1": True, "p2": False}
    assert plain.state().keys() == farm_state.keys()
    assert Client(farm2.cp("nope"), key).get("state/get").status_code == 404


def test_lists_as_requests_sends_them_arrive_whole(server: ServerProcess) -> None:
    """``data={"materials": ["PLA", "PETG"]}`` becomes repeated form fields; all of them count."""
    cp = Client(server.cp(), server.keys["admin"])
    (server.uploads / "two.gcode").write_text("G28\n")
    response = cp.post("set/add", data={"path": "two.gcode", "sd": False, "count": 1,
                                        "materials": ["PLA", "PETG"], "profiles": ["mk3", "mini"]})
    assert response.status_code == 200, response.text
    added = response.json()["set_"]
    assert added["materials"] == ["PLA", "PETG"]
    assert added["profiles"] == ["mk3", "mini"]
