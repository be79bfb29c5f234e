"""``octoprint-cli`` (PyPI), a command-line client with a config file, run as a real subprocess
against a running farm: what it prints and its exit status, and what reached the firmware.

Its config turns off the update check (it would ask GitHub on every run) and colours. Its own
habits, the same against OctoPrint 1.11.8, are tested around: ``files upload`` exits 0 even when
the upload failed (only a 415 or a 409 give 1); ``-v`` crashes on any non-200 answer (its format
string takes its arguments the wrong way round), so it is never used here; a wrong key fails its
first check (``/api/version`` needs a key) with "cannot be reached".
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from octoprint_helpers import SMALL_GCODE, long_gcode

from farmctl.printer import PrinterState

CLI_TIMEOUT = 30.0


def octoprint_cli() -> str:
    found = shutil.which("octoprint-cli", path=str(Path(sys.executable).parent))
    assert found, "octoprint-cli is not installed beside this Python (pyproject's test extras)"
    return found


class Cli:
    def __init__(self, config: Path, cwd: Path) -> None:
        self.config, self.cwd, self.program = config, cwd, octoprint_cli()

    def __call__(self, *args: str, status: int = 0) -> str:
        done = subprocess.run([self.program, "-c", str(self.config), *args], capture_output=True, text=True,
                              cwd=self.cwd, timeout=CLI_TIMEOUT, env={"HOME": str(self.cwd), "PATH": "/usr/bin:/bin"})
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == status, f"octoprint-cli {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout


def write_config(path: Path, url: str, key: str) -> Path:
    path.write_text(f"[server]\nServerAddress = {url}\nApiKey = {key}\n"
                    "[preferences]\nUpdateCheck = false\nFormattedText = false\n")
    return path


@pytest.fixture
def cli(server, tmp_path: Path) -> Cli:
    """octoprint-cli set up for printer p1's own port with an operator's key."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "part.gcode").write_bytes(SMALL_GCODE)
    (work / "long.gcode").write_bytes(long_gcode())
    return Cli(write_config(work / "octoprint-cli.ini", server.urls["p1"], server.keys["operator"]), work)


def commands(server, name: str = "p1") -> list[str]:
    return [record.command for record in server.sim(name).executed]


def test_version_upload_list_and_info(server, cli):
    assert cli("version") == "OctoPrint v1.11.8 - API v0.1\n"
    assert "File uploaded to OctoPrint" in cli("files", "upload", "part.gcode")
    assert "File uploaded to OctoPrint" in cli("files", "upload", str(cli.cwd / "long.gcode"))  # by full path
    assert (server.farm.uploads_dir / "part.gcode").read_bytes() == SMALL_GCODE
    assert (server.farm.uploads_dir / "long.gcode").read_bytes() == (cli.cwd / "long.gcode").read_bytes()
    (cli.cwd / "notes.txt").write_text("not G-code")
    assert "Invalid file type" in cli("files", "upload", "notes.txt", status=1)  # OctoPrint's 415
    assert not (server.farm.uploads_dir / "notes.txt").exists()

    requests.post(f"{server.urls['p1']}/api/files/local", headers=server.headers("operator"),
                  files={"file": ("bracket.gcode", SMALL_GCODE)}, data={"path": "jobs"}).raise_for_status()
    listing = cli("files", "list").splitlines()
    rows = [line.split() for line in listing[1:] if line.strip() and not line.startswith("Free space")]
    assert rows == [["jobs", "folder"], ["long.gcode", "machinecode", "0.44", "MB"],
                    ["part.gcode", "machinecode", "0.0", "MB"]]
    free = float(listing[-1].removeprefix("Free space: ").removesuffix(" GB"))
    assert free > 0
    inside = cli("files", "list", "--path", "jobs")  # a folder's own entries, as OctoPrint lists them
    assert "Listing files in jobs" in inside and "bracket.gcode" in inside and "part.gcode" not in inside

    info = cli("files", "info", "part.gcode")
    assert "Name: part.gcode\nPath: part.gcode\nType: machinecode\n" in info
    assert "Estimated Print Time: 0:00:" in info  # the analysis: a few seconds of moves
    assert "Path: jobs/bracket.gcode" in cli("files", "info", "jobs/bracket.gcode")
    assert "File or folder not found" in cli("files", "info", "nope.gcode", status=1)


def test_select_start_pause_resume_cancel(server, cli):
    for name in ("part.gcode", "long.gcode"):  # uploads are the test above's
        requests.post(f"{server.urls['p1']}/api/files/local", headers=server.headers("operator"),
                      files={"file": (name, (cli.cwd / name).read_bytes())}).raise_for_status()
    idle = cli("print", "status")
    assert idle.startswith("Printer Operational\n") and "Loaded File" not in idle
    assert "No file has been loaded" in cli("print", "start", status=1)

    assert cli("print", "select", "part.gcode") == "part.gcode has been loaded\n"
    assert "Starting print" in cli("print", "start")
    server.wait_for(lambda: "G1 X10 Y40 E1.5" in commands(server), what="part.gcode's moves on the firmware")
    server.wait_state("p1", PrinterState.OPERATIONAL)
    moves = [line for line in SMALL_GCODE.decode().splitlines() if line.startswith("G1")]
    assert [c for c in commands(server) if c in moves] == moves  # each once, in order

    cli("print", "select", "long.gcode")
    cli("print", "start")
    printing = cli("print", "status")
    assert printing.startswith("Printing\nFile: long.gcode\n") and "Progress: " in printing
    assert "Print job pausing" in cli("print", "pause")
    server.wait_state("p1", PrinterState.PAUSED)
    assert cli("print", "status").startswith("Paused\nFile: long.gcode\n")
    assert "Printer is already printing" in cli("print", "start", status=1)
    assert "Print job resuming" in cli("print", "resume")
    server.wait_state("p1", PrinterState.PRINTING)
    assert "Print job cancelling" in cli("print", "cancel")
    server.wait_state("p1", PrinterState.OPERATIONAL)
    assert "No print job is running" in cli("print", "cancel", status=1)
    assert cli("print", "status").startswith("Printer Operational\nLoaded File: long.gcode\n")
    assert server.state("p2") == PrinterState.OPERATIONAL and not any("E1.5" in c for c in commands(server, "p2"))


def test_temperatures_gcode_and_connection(server, cli):
    # the printer answered its first M105 before it was Operational: tool0 is there at once
    assert cli("temp", "status") == "Extruder Temp: 25.0°C\nExtruder Target: 0.0°C\nBed Temp: 25.0°C\nBed Target: 0.0°C\n"
    assert "Bed temp set to 60°C" in cli("temp", "bed", "60")
    assert "Extruder temp set to 210°C" in cli("temp", "extruder", "210")
    assert server.sim("p1").inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (210, 60)
    assert server.sim("p2").inspect(lambda fw: (fw.hotend.target, fw.bed.target)) == (0, 0)
    assert "Extruder Target: 210.0°C\nBed Temp: " in cli("temp", "status")  # no wait for the next report

    cli("gcode", "G28 X")
    assert commands(server)[-1] == "G28 X"

    connected = cli("connection", "status")
    assert connected.startswith("Operational\nPrinter Profile: p1\n")
    assert f"Port: {server.entry('p1').printer.port}" in connected
    assert "Printer disconnected" in cli("connection", "disconnect")
    server.wait_state("p1", PrinterState.OFFLINE)
    closed = cli("connection", "status")
    assert closed.startswith("Printer Disconnected\nPorts: ") and "Baudrates: 250000" in closed
    assert cli("print", "status") == "Printer Disconnected\n"
    assert "Printer is not operational" in cli("temp", "status", status=1)
    assert "G-code execution failed" in cli("gcode", "M105", status=1)
    assert "Printer connected" in cli("connection", "connect")
    server.wait_state("p1", PrinterState.OPERATIONAL)


def test_a_wrong_key_or_a_viewer(server, cli, tmp_path: Path):
    wrong = Cli(write_config(tmp_path / "wrong.ini", server.urls["p1"], "not-a-key"), cli.cwd)
    # /api/version needs a key (OctoPrint 1.11.8: 403 too), so the client's first check already fails
    # and it says so in its own words; its "X-API-Key is incorrect" is never reached.
    assert wrong("version", status=1) == "OctoPrint server cannot be reached\n"
    viewer = Cli(write_config(tmp_path / "viewer.ini", server.urls["p1"], server.keys["viewer"]), cli.cwd)
    assert "Unable to change temperature" in viewer("temp", "bed", "60", status=1)  # a 403
    assert server.sim("p1").inspect(lambda fw: fw.bed.target) == 0
    assert "Unable to upload file" in viewer("files", "upload", "part.gcode")  # exits 0 all the same
    assert not (server.farm.uploads_dir / "part.gcode").exists()
    farm = Cli(write_config(tmp_path / "farm.ini", f"{server.main_url}/printers/p2/", server.keys["operator"]), cli.cwd)
    assert "Bed temp set to 45°C" in farm("temp", "bed", "45")  # under the main port's path
    assert server.sim("p2").inspect(lambda fw: fw.bed.target) == 45
