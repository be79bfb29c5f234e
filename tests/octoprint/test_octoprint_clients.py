"""What slicers and farm managers do, request for request: PrusaSlicer's upload-and-print, Cura's
and Home Assistant's app-key flow, OctoFarm's and FDM Monster's login and checks."""

from __future__ import annotations

import time

import requests
from octoprint_helpers import SMALL_GCODE

from farmctl.printer import PrinterState


def test_prusaslicer_upload_and_print(server):
    """PrusaSlicer's "physical printer" of type OctoPrint: check the version, then upload with print=true."""
    url, headers = server.urls["p1"], server.headers("operator")
    version = requests.get(f"{url}/api/version", headers=headers).json()
    assert "api" in version and version["text"].startswith("OctoPrint")
    response = requests.post(f"{url}/api/files/local", headers=headers,
                             files={"file": ("benchy.gcode", SMALL_GCODE, "application/octet-stream")},
                             data={"path": "", "print": "true"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["done"] is True and body["effectivePrint"] is True and body["effectiveSelect"] is True
    assert body["files"]["local"]["name"] == "benchy.gcode"
    assert response.headers["Location"] == body["files"]["local"]["refs"]["resource"]
    server.wait_for(lambda: "G1 X10 Y40 E1.5" in [r.command for r in server.sim("p1").executed],
                    what="the upload's moves on the simulator")
    server.wait_state("p1", PrinterState.OPERATIONAL)
    executed = [r.command for r in server.sim("p1").executed]
    moves = [line for line in SMALL_GCODE.decode().splitlines() if line.startswith("G1")]
    positions = [executed.index(move) for move in moves]
    assert positions == sorted(positions)


def test_an_ended_print_keeps_its_print_time(server):
    """After the print, /api/job still says how long it took (a farm manager's history shows it), and that
    time no longer runs."""
    url, headers = server.urls["p1"], server.headers("operator")
    response = requests.post(f"{url}/api/files/local", headers=headers,
                             files={"file": ("timed.gcode", SMALL_GCODE)}, data={"print": "true"})
    assert response.status_code == 201, response.text
    server.wait_for(lambda: "G1 X10 Y40 E1.5" in [r.command for r in server.sim("p1").executed],
                    what="the upload's moves on the simulator")
    server.wait_state("p1", PrinterState.OPERATIONAL)
    first = requests.get(f"{url}/api/job", headers=headers).json()["progress"]
    assert first["completion"] == 100 and first["printTimeLeft"] == 0
    assert isinstance(first["printTime"], int) and first["printTime"] >= 0
    time.sleep(1.1)
    assert requests.get(f"{url}/api/job", headers=headers).json()["progress"]["printTime"] == first["printTime"]


def test_upload_fields_after_the_file_and_into_a_folder(server):
    """Cura sends select/print after the file part; the path may come last too."""
    url, headers = server.urls["p2"], server.headers("operator")
    fields = [("file", ("cube.gcode", SMALL_GCODE)), ("path", (None, "cura/jobs")), ("select", (None, "1"))]
    response = requests.post(f"{url}/api/files/local", headers=headers, files=fields)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["files"]["local"]["path"] == "cura/jobs/cube.gcode"
    assert body["effectiveSelect"] is True and body["effectivePrint"] is False
    assert (server.farm.uploads_dir / "cura/jobs/cube.gcode").read_bytes() == SMALL_GCODE
    assert not (server.farm.uploads_dir / "cube.gcode").exists()
    job = requests.get(f"{url}/api/job", headers=headers).json()
    assert job["job"]["file"]["path"] == "cura/jobs/cube.gcode" and job["state"] == "Operational"
    assert job["job"]["estimatedPrintTime"] > 0
    assert requests.post(f"{url}/api/job", headers=headers, json={"command": "start"}).status_code == 204
    server.wait_for(lambda: "G1 X10 Y40 E1.5" in [r.command for r in server.sim("p2").executed],
                    what="the selected file printed")
    assert requests.post(f"{url}/api/files/local/cura/jobs/cube.gcode", headers=headers,
                         json={"command": "unselect"}).status_code == 204


def test_appkeys_flow_approved_on_the_farm(server):
    url, main = server.urls["p1"], server.main_url
    assert requests.get(f"{url}/plugin/appkeys/probe").status_code == 204
    asked = requests.post(f"{url}/plugin/appkeys/request", json={"app": "Cura"})
    assert asked.status_code == 201
    poll_url = asked.headers["Location"]
    token = asked.json()["app_token"]
    assert requests.get(poll_url).status_code == 202

    assert requests.get(f"{main}/api/farm/appkeys", headers=server.headers("operator")).status_code == 403
    waiting = requests.get(f"{main}/api/farm/appkeys", headers=server.headers("admin")).json()["requests"]
    assert [r["app"] for r in waiting] == ["Cura"] and token not in str(waiting)  # the app's secret stays its own
    decided = requests.post(f"{main}/api/farm/appkeys/{waiting[0]['id']}", headers=server.headers("admin"),
                            json={"decision": "allow"})
    assert decided.status_code == 204, decided.text
    granted = requests.get(poll_url)
    assert granted.status_code == 200
    key = granted.json()["api_key"]
    assert requests.get(f"{url}/api/job", headers={"X-Api-Key": key}).status_code == 200
    assert requests.get(poll_url).status_code == 404  # handed out once

    denied = requests.post(f"{url}/plugin/appkeys/request", json={"app": "Home Assistant"})
    other = denied.json()["app_token"]
    assert requests.post(f"{url}/plugin/appkeys/decision/{other}", headers=server.headers("operator"),
                         json={"decision": False}).status_code == 403
    assert requests.post(f"{url}/plugin/appkeys/decision/{other}", headers=server.headers("admin"),
                         json={"decision": False}).status_code == 204  # OctoPrint's own route, by token
    assert requests.get(denied.headers["Location"]).status_code == 404


def test_passive_login_gives_a_session_and_no_reserved_user(server):
    url = server.urls["p1"]
    for role in ("admin", "operator", "viewer"):
        key = server.keys[role]
        for request in (dict(json={"passive": True}), dict(params={"passive": "true"})):
            response = requests.post(f"{url}/api/login", headers={"X-Api-Key": key}, **request)
            assert response.status_code == 200, response.text
            user = response.json()
            assert user["name"] != "_api" and user["session"]
            assert user["apikey"] != key
            assert user["admin"] is (role == "admin")
    session = requests.Session()
    session.post(f"{url}/api/login", headers=server.headers(), json={"passive": True})
    assert session.get(f"{url}/api/currentuser").json()["name"] == "test-admin"  # the cookie alone
    assert requests.post(f"{url}/api/login", json={"passive": True}).status_code == 403


def test_login_with_password(server):
    server.call(lambda: server.farm.auth.add_user("alice", "s3cret"))
    url = server.urls["p1"]
    assert requests.post(f"{url}/api/login", json={"user": "alice", "pass": "wrong"}).status_code == 403
    session = requests.Session()
    response = session.post(f"{url}/api/login", json={"user": "alice", "pass": "s3cret", "remember": True})
    assert response.status_code == 200 and response.json()["name"] == "alice"
    assert session.get(f"{url}/api/printer").status_code == 200


def test_the_same_api_under_the_main_port(server):
    main, headers = server.main_url, server.headers()
    for name in ("p1", "p2"):
        response = requests.get(f"{main}/printers/{name}/api/connection", headers=headers)
        assert response.status_code == 200
        assert response.json()["current"]["port"] == server.entry(name).printer.port
    assert requests.post(f"{main}/printers/p2/api/printer/bed", headers=headers,
                         json={"command": "target", "target": 55}).status_code == 204
    assert server.sim("p2").inspect(lambda fw: fw.bed.target) == 55
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 0
    upload = requests.post(f"{main}/printers/p2/api/files/local", headers=headers,
                           files={"file": ("x.gcode", SMALL_GCODE)})
    assert upload.json()["files"]["local"]["refs"]["download"].startswith(f"{main}/printers/p2/downloads/")
    assert requests.get(upload.json()["files"]["local"]["refs"]["download"], headers=headers).content == SMALL_GCODE
    assert requests.get(f"{main}/printers/nope/api/job", headers=headers).status_code == 404
