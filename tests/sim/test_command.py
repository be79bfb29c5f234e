"""``farmctl sim`` as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parents[2]


def farmctl(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "farmctl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_unknown_profile_is_one_line_error() -> None:
    process = farmctl("sim", "--profile", "nope")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "farmctl: unknown firmware profile 'nope'; known: marlin1, marlin2, marlin2-advanced-ok, marlin2-usb, prusa-mk3"]


def test_prints_the_link_serves_it_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "printer"
    process = farmctl("sim", "--full-speed", "--time-scale", "0", "--link", str(link),
                      "--stats-json", str(tmp_path / "stats.json"))
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == str(link)
        with serial.Serial(str(link), timeout=5) as port:
            port.write(b"M115\n")
            assert port.readline().startswith(b"FIRMWARE_NAME:Marlin 2.1.2.1")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert '"commands_executed": 1' in (tmp_path / "stats.json").read_text()


def test_the_delivery_choices_are_the_simulators() -> None:
    from farmctl.sim import Delivery
    from farmctl.sim.command import DELIVERIES

    assert DELIVERIES == tuple(d.value for d in Delivery) and DELIVERIES[0] == Delivery.LINES.value
