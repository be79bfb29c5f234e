"""The data folder's farmctl.log records what an operator audits, each printer's lines naming it,
and never a key, a password or a session; the first admin key is on the terminal once, only there."""

from __future__ import annotations

import subprocess
import sys
import time

import requests
from server_helpers import ServerProcess, farm_toml, farmctl, wait_until

GCODE = b"G28\nG1 X10 Y10 F3000\nG1 X20\n"


def test_the_log_file_audits_and_keeps_no_secret(tmp_path) -> None:
    server = ServerProcess(tmp_path, farm_toml("p1"))
    try:
        server.start()
        wait_until(lambda: "admin API key" in server.log(), 10, "the first admin key on the terminal")
        first = next(line for line in server.log().splitlines() if "admin API key" in line).split()[-1]
        key = server.add_key("admin")
        subprocess.run([sys.executable, "-m", "farmctl", "users", "add", "ann", "--data", str(server.data)],
                       input="s3cret-horse\n", text=True, check=True, capture_output=True, timeout=20)
        url, headers = server.url, {"X-Api-Key": key}
        assert requests.post(f"{url}/api/login", json={"user": "ann", "pass": "wrong-guess"}, timeout=10).status_code == 403
        login = requests.post(f"{url}/api/login", json={"user": "ann", "pass": "s3cret-horse"}, timeout=10)
        session = login.json()["session"]
        assert requests.get(f"{url}/api/job", headers={"X-Api-Key": "not-a-key-" + key[:6]}, timeout=10).status_code == 403
        token = requests.post(f"{url}/plugin/appkeys/request", json={"app": "Slicer"}, timeout=10).json()["app_token"]
        [waiting] = requests.get(f"{url}/api/farm/appkeys", headers=headers, timeout=10).json()["requests"]
        requests.post(f"{url}/api/farm/appkeys/{waiting['id']}", json={"decision": "allow"}, headers=headers, timeout=10)
        app_key = requests.get(f"{url}/plugin/appkeys/request/{token}", timeout=10).json()["api_key"]
        server.wait_connected("p1")  # a print asked of a printer still connecting is refused
        uploaded = requests.post(f"{url}/printers/p1/api/files/local", files={"file": ("cube.gcode", GCODE)},
                                 data={"print": "true"}, headers=headers, timeout=10)
        assert uploaded.status_code == 201, uploaded.text
        log_file = server.data / "farmctl.log"
        wait_until(lambda: "print of cube.gcode ended: done" in log_file.read_text(), 15, "the print's end in the log")
        key_id = farmctl("keys", "list", "--data", str(server.data)).splitlines()[-1].split()[0]
        farmctl("keys", "revoke", key_id, "--data", str(server.data))
        time.sleep(0.2)
    finally:
        server.stop()
    text = log_file.read_text()
    for secret in (first, key, app_key, session, token, "s3cret-horse", "wrong-guess"):
        assert secret not in text, f"a secret is in farmctl.log: {secret[:4]}..."
    terminal = server.log()
    assert terminal.count(first) == 1
    for secret in (key, app_key, session, token, "s3cret-horse"):
        assert secret not in terminal
    for line in ("API key 1 'initial-admin' added", "login failed for user 'ann'", "user 'ann' logged in",
                 "app key request 1 by 'Slicer'", "printer 'p1': print of cube.gcode started",
                 "printer 'p1': print of cube.gcode ended: done", f"API key {key_id} revoked"):
        assert line in text, line
    assert " INFO " in text and "DEBUG" not in text
