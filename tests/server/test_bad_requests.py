"""Bad payloads get a 4xx with ``{"error": ...}`` and change nothing; keys and roles are enforced.

One server for the module (starting one costs a second or two); each case compares what the API
shows (state/get, history, queues, automation) before and after the refused request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from server_helpers import Client, ServerProcess, farm_toml

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Two printers (so the plain paths are the farm's) with one draft job of two sets."""
    proc = ServerProcess(tmp_path_factory.mktemp("bad"), farm_toml("p1", "p2"))
    try:
        proc.start()
        proc.add_key("admin")
        proc.add_key("viewer")
        cp = Client(proc.cp("p1"), proc.keys["admin"])
        job = cp.post("set/add", data={"path": "a.gcode", "sd": False, "count": 2, "jobName": "keep"}).json()
        cp.post("set/add", data={"path": "b.gcode", "sd": False, "count": 1, "job": job["job_id"]})
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def job_id(srv: ServerProcess) -> int:
    return Client(srv.cp("p1"), srv.keys["admin"]).state()["queues"][0]["jobs"][0]["id"]


def snapshot(srv: ServerProcess) -> dict[str, Any]:
    cp = Client(srv.cp("p1"), srv.keys["admin"])
    return {
        "p1": cp.state(),
        "p2": Client(srv.cp("p2"), srv.keys["admin"]).state(),
        "farm": Client(srv.farm_cp, srv.keys["admin"]).state(),
        "history": cp.history(),
        "queues": cp.get("queues/get").json(),
        "automation": cp.get("automation/get").json(),
    }


def refused(srv: ServerProcess, path: str, data: Any, status: int | tuple[int, ...] = 400, *,
            printer: str | None = "p1", key: str | None = "admin", **kw: Any) -> str:
    """POST ``data``; the answer must be ``status`` with an error message, and nothing may change."""
    before = snapshot(srv)
    base = srv.cp(printer) if printer != "farm" else srv.farm_cp
    headers = {"X-Api-Key": srv.keys[key]} if key else {}
    response = requests.post(f"{base}/{path}", data=data, headers=headers, timeout=10, **kw)
    expected = status if isinstance(status, tuple) else (status,)
    assert response.status_code in expected, (path, data, response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    assert snapshot(srv) == before, f"{path} {data!r} changed something"
    return body["error"]


@pytest.mark.parametrize("data", [
    {"sd": False, "count": 2, "jobName": "x", "jobDraft": False},              # no path
    {"path": "", "sd": False, "count": 1},                                     # empty path
    {"path": "x.gcode", "sd": False, "count": -1},                             # negative count
    {"path": "x.gcode", "sd": False, "count": 0},
    {"path": "x.gcode", "sd": False, "count": "two"},
    {"path": "x.gcode", "sd": False, "count": 1.5},
    {"path": "x.gcode", "sd": False, "count": 1, "remaining": -1},
    {"path": "x.gcode", "sd": "maybe", "count": 1},                            # non-boolean sd
    {"path": "x.gcode", "sd": False, "count": 1, "jobDraft": "perhaps"},
    {"path": "x.gcode", "sd": False, "count": 1, "job": "abc"},
    {"path": "x.gcode", "sd": False, "count": 1, "materials": "not json"},
    {"path": "x.gcode", "sd": False, "count": 1, "profiles": '[""]'},
    {"path": "../x.gcode", "sd": False, "count": 1},
    {"path": "/etc/passwd", "sd": False, "count": 1},
    {"json": '{"path": "x.gcode", "count": 1'},                                # malformed json field
    {"json": '["x.gcode"]'},                                                   # json, but not an object
    {"json": '{"path": "x.gcode", "count": -3}'},
    {"json": '{"count": 1}'},
])
def test_set_add_refuses(srv: ServerProcess, data: dict[str, Any]) -> None:
    refused(srv, "set/add", data)


def test_set_add_refuses_a_bad_json_body(srv: ServerProcess) -> None:
    before = snapshot(srv)
    response = requests.post(f"{srv.cp('p1')}/set/add", data="{not json", timeout=10,
                             headers={"X-Api-Key": srv.keys["admin"], "Content-Type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()
    assert snapshot(srv) == before


@pytest.mark.parametrize("data", [
    {"active": "maybe"}, {"active": 2}, {"active": "nope"}, {"active": ""}, {}, {"json": "{"},
    {"json": '{"active": "x"}'},
])
@pytest.mark.parametrize("where", ["p1", "farm"])
def test_set_active_refuses_a_non_boolean(srv: ServerProcess, data: dict[str, Any], where: str) -> None:
    refused(srv, "set_active", data, printer=where)


def test_job_edit_refuses(srv: ServerProcess, job_id: int) -> None:
    assert "9999" in refused(srv, "job/edit", {"json": json.dumps({"id": 9999, "count": 2})}, 404)
    refused(srv, "job/edit", {"json": '{"id": %d, "count": ' % job_id})
    refused(srv, "job/edit", {"json": json.dumps({"count": 2})})
    refused(srv, "job/edit", {"json": json.dumps({"id": "x", "count": 2})})
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "count": -2})})
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "count": 2, "remaining": 5})})
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "draft": "sometimes"})})
    # A good change and a bad set in one request: all or nothing.
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "name": "renamed", "count": 3,
                                                  "sets": [{"path": "ok.gcode", "count": 1},
                                                           {"path": "bad.gcode", "count": -1}]})})
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "sets": [{"id": 9999, "path": "x.gcode"}]})})
    refused(srv, "job/edit", {"json": json.dumps({"id": job_id, "sets": "all"})})


def test_job_rm_mv_reset_refuse(srv: ServerProcess, job_id: int) -> None:
    refused(srv, "job/rm", {"queue": "local", "job_ids[]": [9999]}, 404)
    refused(srv, "job/rm", {"queue": "local", "job_ids[]": [job_id, 9999]}, 404)  # nothing removed
    refused(srv, "job/rm", {"queue": "local", "job_ids[]": ["abc"]})
    refused(srv, "job/rm", {"queue": "local"})
    refused(srv, "job/rm", {"queue": "nope", "job_ids[]": [job_id]}, 404)
    refused(srv, "job/rm", {"queue": "LAN", "job_ids[]": [job_id]}, 404)  # it is in local
    refused(srv, "job/reset", {"queue": "local", "job_ids[]": [9999]}, 404)
    refused(srv, "job/mv", {"id": 9999, "after_id": ""}, 404)
    refused(srv, "job/mv", {"id": job_id, "after_id": 9999}, 404)
    refused(srv, "job/mv", {"id": job_id, "after_id": job_id})
    refused(srv, "job/mv", {"id": job_id, "dest_queue": "nope"}, 404)


def test_settings_endpoints_refuse(srv: ServerProcess) -> None:
    refused(srv, "automation/edit", {"json": "{"})
    refused(srv, "automation/edit", {})
    refused(srv, "automation/edit", {"json": json.dumps({"scripts": {}, "events": {
        "continuousprint_success": [{"script": "missing"}]}})})
    refused(srv, "automation/edit", {"json": json.dumps({"scripts": {"s": "G28"}, "events": {
        "no_such_event": [{"script": "s"}]}})})
    refused(srv, "queues/edit", {"json": "{}"})
    refused(srv, "queues/edit", {"json": json.dumps([{"name": "local"}, {"name": "local"}])})
    refused(srv, "job/add", {})
    before = snapshot(srv)
    response = requests.post(f"{srv.cp('p1')}/automation/external", data="[1, 2]", timeout=10,
                             headers={"X-Api-Key": srv.keys["admin"], "Content-Type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()
    assert snapshot(srv) == before


@pytest.mark.parametrize("where", ["p1", "farm", None])
def test_no_key_or_a_wrong_key_is_403(srv: ServerProcess, where: str | None) -> None:
    base = srv.farm_cp if where == "farm" else srv.cp(where)
    for headers in ({}, {"X-Api-Key": "not-a-key"}):
        response = requests.get(f"{base}/state/get", headers=headers, timeout=10)
        assert response.status_code == 403 and "error" in response.json()
    refused(srv, "set_active", {"active": True}, 403, printer=where or "farm", key=None)
    refused(srv, "set/add", {"path": "x.gcode", "count": 1}, 403, printer=where or "farm", key=None)


def test_viewer_may_read_but_not_change(srv: ServerProcess) -> None:
    viewer = Client(srv.cp("p1"), srv.keys["viewer"])
    assert viewer.get("state/get").status_code == 200
    assert viewer.get("history/get").status_code == 200
    assert Client(srv.farm_cp, srv.keys["viewer"]).get("state/get").status_code == 200
    refused(srv, "set_active", {"active": True}, 403, key="viewer")
    refused(srv, "set_active", {"active": True}, 403, printer="farm", key="viewer")
    refused(srv, "set/add", {"path": "x.gcode", "sd": False, "count": 1}, 403, key="viewer")
    refused(srv, "job/rm", {"queue": "local", "job_ids[]": [1]}, 403, key="viewer")
    refused(srv, "automation/edit", {"json": "{}"}, 403, key="viewer")


def test_the_server_still_works_after_all_that(srv: ServerProcess, job_id: int) -> None:
    cp = Client(srv.cp("p1"), srv.keys["admin"])
    response = cp.post("set/add", data={"path": "c.gcode", "sd": False, "count": 1, "job": job_id})
    assert response.status_code == 200
    job = cp.state()["queues"][0]["jobs"][0]
    assert job["name"] == "keep" and [s["path"] for s in job["sets"]] == ["a.gcode", "b.gcode", "c.gcode"]
