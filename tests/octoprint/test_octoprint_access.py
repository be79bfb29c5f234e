"""Who may do what: no key is 403 everywhere but OctoPrint's open paths, a viewer reads but never
changes, admin-only routes refuse operators, and no file name escapes the uploads folder."""

from __future__ import annotations

import os

import pytest
import requests
from octoprint_helpers import SMALL_GCODE

READS = ["/api/version", "/api/server", "/api/currentuser", "/api/settings", "/api/printerprofiles",
         "/api/printerprofiles/_default", "/api/connection", "/api/printer", "/api/printer/tool",
         "/api/printer/bed", "/api/printer/sd", "/api/printer/command/custom", "/api/job", "/api/files",
         "/api/files/local", "/api/files/local/a.gcode", "/downloads/files/local/a.gcode",
         "/api/system/commands", "/api/system/commands/core", "/api/plugin/action_command_prompt"]
CHANGES = [
    ("POST", "/api/connection", {"command": "disconnect"}),
    ("POST", "/api/printer/command", {"command": "M117 x"}),
    ("POST", "/api/printer/tool", {"command": "target", "targets": {"tool0": 200}}),
    ("POST", "/api/printer/bed", {"command": "target", "target": 60}),
    ("POST", "/api/printer/printhead", {"command": "home", "axes": ["x"]}),
    ("POST", "/api/job", {"command": "start"}),
    ("POST", "/api/files/local/a.gcode", {"command": "select"}),
    ("DELETE", "/api/files/local/a.gcode", None),
    ("POST", "/api/settings", {"appearance": {"name": "x"}}),
    ("POST", "/api/system/commands/core/shutdown", None),
    ("POST", "/api/logout", None),
    ("POST", "/api/plugin/action_command_prompt", {"command": "select", "choice": 0}),
]
ADMIN_ONLY = [("GET", "/api/users", None), ("POST", "/api/settings", {"appearance": {"name": "x"}}),
              ("POST", "/api/system/commands/core/reboot", None)]


@pytest.fixture
def with_file(server):
    (server.farm.uploads_dir / "a.gcode").write_bytes(SMALL_GCODE)
    return server


def test_no_key_is_403_everywhere_but_the_open_paths(with_file):
    server = with_file
    for base in (server.urls["p1"], f"{server.main_url}/printers/p1"):
        for path in READS + ["/api/users"]:
            response = requests.get(base + path)
            assert response.status_code == 403, path
            assert "error" in response.json()
        for method, path, body in CHANGES:
            assert requests.request(method, base + path, json=body).status_code == 403, path
        wrong = requests.get(base + "/api/job", headers={"X-Api-Key": "not-a-key"})
        assert wrong.status_code == 403
    assert requests.get(server.urls["p1"] + "/").status_code == 200
    assert requests.get(server.urls["p1"] + "/plugin/appkeys/probe").status_code == 204
    assert (server.farm.uploads_dir / "a.gcode").exists()


def test_key_in_bearer_and_query(server):
    url, key = server.urls["p1"], server.keys["viewer"]
    assert requests.get(f"{url}/api/job", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert requests.get(f"{url}/api/job", params={"apikey": key}).status_code == 200


def test_viewer_reads_but_never_changes(with_file):
    server = with_file
    url, viewer = server.urls["p1"], server.headers("viewer")
    for path in READS:
        assert requests.get(url + path, headers=viewer).status_code == 200, path
    for method, path, body in CHANGES:
        if path == "/api/logout":
            continue  # a viewer may end its own session
        response = requests.request(method, url + path, headers=viewer, json=body)
        assert response.status_code == 403, (path, response.text)
    assert requests.post(url + "/api/logout", headers=viewer).status_code == 204
    upload = requests.post(f"{url}/api/files/local", headers=viewer, files={"file": ("v.gcode", SMALL_GCODE)})
    assert upload.status_code == 403
    assert not (server.farm.uploads_dir / "v.gcode").exists()
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 0


def test_admin_only_routes_refuse_operators(server):
    url = server.urls["p1"]
    for method, path, body in ADMIN_ONLY:
        response = requests.request(method, url + path, headers=server.headers("operator"), json=body)
        assert response.status_code == 403, path
    assert requests.get(f"{url}/api/users", headers=server.headers()).status_code == 200


@pytest.mark.parametrize("name, status", [
    ("../evil.gcode", 400), ("..%2Fevil.gcode", 400), ("/tmp/evil.gcode", 400), ("a/../../evil.gcode", 400),
    ("..\\evil.gcode", 400), (".hidden.gcode", 400),
    ("evil.sh", 415),  # OctoPrint's answer to a type it cannot store (octoprint-cli says "Invalid file type")
])
def test_traversal_names_are_refused(server, tmp_path, name, status):
    url, headers = server.urls["p1"], server.headers()
    before = set(_all_files(tmp_path))
    response = requests.post(f"{url}/api/files/local", headers=headers, files={"file": (name, SMALL_GCODE)})
    assert response.status_code == status, response.text
    assert "error" in response.json()
    in_path = requests.post(f"{url}/api/files/local", headers=headers,
                            files={"file": ("ok.gcode", SMALL_GCODE)}, data={"path": "../.."})
    assert in_path.status_code == 400
    assert set(_all_files(tmp_path)) == before
    assert not os.path.exists("/tmp/evil.gcode")
    assert requests.get(f"{url}/api/files", headers=headers).json()["files"] == []


def test_traversal_in_url_paths(server, tmp_path):
    url, headers = server.urls["p1"], server.headers()
    secret = tmp_path / "data" / "farmctl.db"
    for path in ("/downloads/files/local/..%2Ffarmctl.db", "/downloads/files/local/%2E%2E/farmctl.db",
                 "/api/files/local/..%2F..%2Fetc%2Fpasswd"):
        response = requests.get(url + path, headers=headers)
        assert response.status_code in (400, 404), path
        assert b"SQLite" not in response.content
    moved = requests.post(f"{url}/api/files/local/x.gcode", headers=headers,
                          json={"command": "move", "destination": "../x.gcode"})
    assert moved.status_code in (400, 404)
    assert secret.exists()


def test_bad_values_are_400(server):
    url, headers = server.urls["p1"], server.headers()
    bad = [("/api/connection", {"command": "connect", "baudrate": 12345}),
           ("/api/connection", {"command": "connect", "port": "/dev/ttyNOPE"}),
           ("/api/connection", {"command": "explode"}),
           ("/api/printer/tool", {"command": "target", "targets": {"tool7": 200}}),
           ("/api/printer/tool", {"command": "target", "targets": {"tool0": "hot"}}),
           ("/api/printer/bed", {"command": "target", "target": 9000}),
           ("/api/printer/printhead", {"command": "home", "axes": ["q"]}),
           ("/api/job", {"command": "pause", "action": "sideways"}),
           ("/api/printer/command", {"commands": "G28"}),
           ("/api/printer/command", {"command": "M117 " + "x" * 90}),  # the firmware would truncate it
           ("/api/printer/command", {"commands": ["M117 ok", "G1 X1 ; fine", "M117 *7"]})]
    for path, body in bad:
        response = requests.post(url + path, headers=headers, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"]
    assert requests.post(f"{url}/api/job", headers=headers, json={"command": "start"}).status_code == 409


def _all_files(root):
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if "farmctl.db" not in f]
