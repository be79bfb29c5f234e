"""``farmctl print`` and ``farmctl sim`` as a user runs them: separate processes talking over a pty."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from farmctl.print_command import format_progress
from farmctl.printer import JobProgress

FARMCTL = [sys.executable, "-m", "farmctl"]


def start_sim(*options: str) -> tuple[subprocess.Popen, str]:
    sim = subprocess.Popen([*FARMCTL, "sim", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = sim.stdout.readline().strip()
    assert port.startswith("/"), sim.stderr.read()
    return sim, port


def stop(sim: subprocess.Popen) -> None:
    sim.send_signal(signal.SIGTERM)
    assert sim.wait(10) == 0


def run_print(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*FARMCTL, "print", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def moves(path: Path, count: int) -> Path:
    path.write_text("G28\n" + "".join(f"G1 X{i % 200}.5 Y{(i * 3) % 200}.25 F3000 ; segment\n" for i in range(count)))
    return path


def test_a_print_that_completes_exits_zero_with_a_summary(tmp_path):
    sim, port = start_sim("--full-speed", "--time-scale", "0")
    try:
        result = run_print(str(moves(tmp_path / "part.gcode", 300)), "--port", port)
    finally:
        stop(sim)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("done: 301 lines in ")
    assert "Traceback" not in result.stderr


def test_a_firmware_reset_fails_with_one_line_and_no_traceback(tmp_path):
    sim, port = start_sim("--full-speed", "--time-scale", "0", "--reset-after", "100")
    try:
        result = run_print(str(moves(tmp_path / "part.gcode", 2000)), "--port", port)
    finally:
        stop(sim)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "firmware reset" in lines[0]


def test_an_unplugged_printer_fails_clearly(tmp_path):
    sim, port = start_sim("--full-speed", "--time-scale", "0", "--unplug-after", "100")
    try:
        result = run_print(str(moves(tmp_path / "part.gcode", 2000)), "--port", port)
    finally:
        sim.kill()
        sim.wait(10)
    assert result.returncode == 1
    assert "port gone" in result.stderr and "Traceback" not in result.stderr


def test_sigint_without_a_terminal_cancels_and_turns_heaters_off(tmp_path):
    sim, port = start_sim("--time-scale", "1")
    try:
        job = tmp_path / "slow.gcode"
        job.write_text("M104 S200\n" + "".join(f"G1 X{(i % 2) * 100} F600\n" for i in range(200)))
        process = subprocess.Popen([*FARMCTL, "print", str(job), "--port", port], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        stop(sim)
    assert process.returncode == 3, err
    assert "cancelled" in err and "heaters off" in err


@pytest.mark.parametrize("args, message", [
    (["missing.gcode", "--port", "/dev/null"], "no such file"),
    (["{job}", "--port", "/nonexistent/tty"], "cannot open"),
    (["{job}", "--port", "/dev/null", "--profile", "nope"], "unknown firmware profile"),
])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, args, message):
    job = moves(tmp_path / "ok.gcode", 3)
    os.chdir(tmp_path)
    result = run_print(*[a.replace("{job}", str(job)) for a in args], timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_progress_line_shows_percent_lines_elapsed_eta_and_resends():
    progress = JobProgress(Path("x.gcode"), size=1000, commands=50, acknowledged=25, offset=500, started=100.0, resends=3)
    line = format_progress(progress, now=110.0)
    assert "50.0%" in line and "25/50 lines" in line and "00:10" in line and "ETA 00:10" in line and "resends 3" in line
