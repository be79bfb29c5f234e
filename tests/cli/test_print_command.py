"""``farmctl print`` and ``farmctl sim`` as a user runs them: separate processes talking over a pty."""

import os
import pty
import select
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
    assert result.stdout.splitlines()[-1].startswith("done: 301 lines in ")
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
        started = process.stdout.readline()  # streaming has begun: Ctrl-C now means "cancel the print"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        stop(sim)
    assert started == f"printing slow.gcode on {port}\n"
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


class Terminal:
    """``farmctl print`` on a pseudo-terminal of its own, as a person runs it: it reads what they type."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: farmctl with the terminal as stdin, stdout and stderr
            os.execv(sys.executable, [sys.executable, "-m", "farmctl", "print", *args])
        self.screen = ""

    def read_until(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never appeared; the screen: {self.screen[-300:]!r}"
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:  # the child is gone and its terminal with it
                    break
        return self.screen

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_code(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while (done := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            assert time.monotonic() < deadline, "farmctl print did not exit"
            time.sleep(0.05)
        return os.waitstatus_to_exitcode(done[1])


@pytest.mark.parametrize("answers, exit_code, last_words", [
    ([b"p\r", b"r\r"], 0, "done:"),  # pause, then resume: the print completes
    ([b"c\r"], 3, "cancelled"),
])
def test_ctrl_c_on_a_terminal_asks_whether_to_pause_or_cancel(tmp_path, answers, exit_code, last_words):
    sim, port = start_sim("--time-scale", "0.05")
    try:
        terminal = Terminal(str(moves(tmp_path / "part.gcode", 150)), "--port", port)
        terminal.read_until(" lines ")  # the progress bar is drawn
        terminal.type(b"\x03")  # Ctrl-C: the terminal sends SIGINT
        terminal.read_until("Pause or cancel the print? [p/c]")
        terminal.type(answers[0])
        if len(answers) > 1:
            terminal.read_until("Paused. Resume or cancel? [r/c]")
            terminal.type(answers[1])
        terminal.read_until(last_words, timeout=60)
        assert terminal.exit_code() == exit_code
        assert "Traceback" not in terminal.screen
    finally:
        stop(sim)
