"""The data folder's storage failing under a real ``farmctl serve``: a full disk during an upload,
the database locked by another process, a read-only data folder at start-up.

Each ends in a clear answer a person can act on, loses nothing, and the server goes on.
"""

from __future__ import annotations

import contextlib
import time
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from server_helpers import Client, ServerProcess, farm_toml, finished, run_farmctl, wait_until

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted on ``folder``; the test is skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs here to fill a disk ({done.stderr.strip() or 'not root'})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_during_an_upload_is_a_clear_error_and_keeps_the_older_file(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, farm_toml("p1", "p2"))
    with small_disk(server.uploads, "2m"):
        try:
            server.start()
            key = server.add_key("operator")
            headers = {"X-Api-Key": key}
            old = b"G28\nG1 X10 Y10 F3000\n"
            assert requests.post(f"{server.url}/printers/p1/api/files/local", headers=headers, timeout=10,
                                 files={"file": ("part.gcode", old)}).status_code == 201
            cp = Client(server.farm_cp, key)
            cp.no_hooks()
            (server.root / "moves").write_text("".join(f"G1 X{i % 100} Y{i % 90} F6000\n" for i in range(3000)))
            response = requests.post(f"{server.url}/printers/p2/api/files/local", headers=headers, timeout=10,
                                     files={"file": ("moves.gcode", (server.root / "moves").read_bytes())},
                                     data={"print": "true"})
            assert response.status_code == 201 and response.json()["effectivePrint"], response.text

            big = b"G1 X1 Y1 F3000\n" * 200_000  # 3 MB on a 2 MB disk
            response = requests.post(f"{server.url}/printers/p1/api/files/local", headers=headers, timeout=30,
                                     files={"file": ("part.gcode", big)})
            assert response.status_code == 507, response.text
            error = response.json()["error"]
            assert "space" in error and "part.gcode" in error, error

            files = requests.get(f"{server.url}/printers/p1/api/files", headers=headers, timeout=10).json()["files"]
            listed = {f["name"]: f["size"] for f in files}
            assert listed["part.gcode"] == len(old), "the older file was damaged"
            assert sorted(p.name for p in server.uploads.iterdir() if not p.name.startswith(".farmctl")) == [
                "moves.gcode", "part.gcode"], "the cut-off upload left something behind"
            assert requests.get(f"{server.url}/downloads/files/local/part.gcode", headers=headers,
                                timeout=10).content == old
            small = requests.post(f"{server.url}/printers/p1/api/files/local", headers=headers, timeout=10,
                                  files={"file": ("next.gcode", b"G28\n")})
            assert small.status_code == 201, "the space of the cut-off upload was not given back"
            wait_until(lambda: requests.get(f"{server.url}/printers/p2/api/job", headers=headers, timeout=10)
                       .json()["progress"]["completion"] == 100, 30, "p2's print to finish")
            assert "Traceback" not in server.log(), server.log()
        finally:
            server.kill()


def test_the_database_locked_by_another_process_is_a_clear_503_and_loses_no_result(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, farm_toml("p1"), sim_speed="real")  # the dwells take their time
    try:
        server.start()
        key = server.add_key("admin")
        cp = Client(server.cp(), key)
        cp.no_hooks()
        (server.uploads / "part.gcode").write_text("M117 BEGIN part\n" + "G4 P100\n" * 40 + "M117 END part\n")
        assert cp.post("set/add", data={"path": "part.gcode", "sd": False, "count": 1, "jobName": "J",
                                        "jobDraft": False}).status_code == 200
        other = sqlite3.connect(server.data / "farmctl.db", isolation_level=None, timeout=10)
        try:
            assert cp.post("set_active", data={"active": True}).status_code == 200
            wait_until(lambda: cp.state()["status"] == "Printing", 10, "the print to start")
            other.execute("BEGIN IMMEDIATE")  # another process (a backup, sqlite3 by hand) holds the write lock
            refused = cp.post("set/add", data={"path": "part.gcode", "sd": False, "count": 1, "jobName": "K",
                                               "jobDraft": False})
            assert refused.status_code == 503, refused.text
            assert "locked by another process" in refused.json()["error"]
            time.sleep(6)  # the print ends meanwhile: its result waits for the lock
        finally:
            other.rollback()
            other.close()
        wait_until(lambda: finished(cp.history()), 10, "the print's result to be recorded")
        assert [(r["set_path"], r["result"]) for r in cp.history()] == [("part.gcode", "success")]
        state = cp.state()
        job = state["queues"][0]["jobs"][0]
        assert job["sets"][0]["completed"] == 1 and job["sets"][0]["remaining"] == 0
        assert len(state["queues"][0]["jobs"]) == 1, "the refused job was added after all"
        assert "Traceback" not in server.log(), server.log()
        server.kill()
        server.start()  # and a restart owes nothing: the copy is not printed again
        assert [(r["set_path"], r["result"]) for r in Client(server.cp(), key).history()] == [
            ("part.gcode", "success")]
    finally:
        server.kill()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` bind-mounted read-only over itself (as a remount after disk errors leaves it)."""
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount a folder read-only here ({done.stderr.strip() or 'not root'})")
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount a folder read-only here ({done.stderr.strip()})")
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_data_folder_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, farm_toml("p1"))
    server.start()
    key = server.add_key("admin")
    server.stop()
    with read_only(server.data):
        assert _cannot_write(server.data), "the mount did not make the folder read-only"
        done = run_farmctl("serve", "--data", str(server.data), "--config", str(server.config_path),
                           "--port", "0", "--sim-speed", "fast", timeout=30)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"the data folder {server.data} cannot be written (Read-only file system)" in lines[0]
    try:
        server.start()  # writable again: everything is as it was
        response = requests.get(f"{server.url}/api/version", headers={"X-Api-Key": key}, timeout=10)
        assert response.status_code == 200
    finally:
        server.kill()


def _cannot_write(folder: Path) -> bool:
    try:
        (folder / "probe").touch()
    except OSError:
        return True
    return False
