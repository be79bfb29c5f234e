"""A simulated printer in a child process, so a benchmark can measure the host's CPU alone.

Runs ``python -m farmctl sim ... --stats-json FILE``, reads the port from its first line, and on
``stop()`` sends SIGTERM and reads back the counters (and, if asked, every executed command).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.sim.printer import Delivery, Faults
from farmctl.sim.records import Executed, Stats


@dataclass(frozen=True, slots=True)
class ProcessReport:
    stats: Stats
    cpu_seconds: float               # CPU the simulator process used
    executed: list[Executed] | None  # only with record_executed=True


class SimulatorProcess:
    """``with SimulatorProcess(baud=250000) as sim: open(sim.path) ...; report = sim.stop()``."""

    def __init__(self, profile: str = "marlin2", *, baud: int | None = None, full_speed: bool = False,
                 latency: float = 0.002, time_scale: float = 1.0, faults: Faults = Faults(),
                 link: Path | None = None, record_executed: bool = False, start_timeout: float = 10.0,
                 delivery: Delivery = Delivery.LINES) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="farmctl-sim-"))
        self._stats_file = self._workdir / "stats.json"
        args = [sys.executable, "-m", "farmctl", "sim", "--profile", profile, "--latency", str(latency * 1000),
                "--time-scale", str(time_scale), "--stats-json", str(self._stats_file), "--seed", str(faults.seed),
                "--delivery", delivery.value]
        if full_speed:
            args.append("--full-speed")
        elif baud is not None:
            args += ["--baud", str(baud)]
        if link is not None:
            args += ["--link", str(link)]
        if record_executed:
            args.append("--executed")
        for flag, value in (("--rx-corrupt", faults.rx_corrupt), ("--rx-drop", faults.rx_drop),
                            ("--tx-corrupt", faults.tx_corrupt), ("--tx-drop", faults.tx_drop),
                            ("--reset-after", faults.reset_after_commands),
                            ("--unplug-after", faults.unplug_after_commands)):
            if value:
                args += [flag, str(value)]
        self._args = args
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        self.path = ""
        self.report: ProcessReport | None = None

    def start(self) -> SimulatorProcess:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self._process = subprocess.Popen(self._args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        ready, _, _ = select.select([self._process.stdout], [], [], self._start_timeout)
        line = self._process.stdout.readline().strip() if ready and self._process.stdout else ""
        if not line:
            self._process.kill()
            _, err = self._process.communicate()
            raise FarmctlError(f"simulator did not start: {err.strip() or 'no output'}")
        self.path = line
        return self

    def stop(self, timeout: float = 10.0) -> ProcessReport:
        if self.report is not None:
            return self.report
        process = self._process
        if process is None:
            raise RuntimeError("simulator process was not started")
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise FarmctlError("simulator did not stop on SIGTERM") from None
        if process.returncode != 0:
            raise FarmctlError(f"simulator exited with status {process.returncode}: {err.strip()}")
        data = json.loads(self._stats_file.read_text())
        executed = [Executed(**record) for record in data["executed"]] if "executed" in data else None
        self.report = ProcessReport(Stats(**data["stats"]), data["cpu_seconds"], executed)
        self._stats_file.unlink(missing_ok=True)
        self._workdir.rmdir()
        return self.report

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self.stop()


def wait_for_path(path: Path, timeout: float = 5.0) -> bool:
    """True once ``path`` exists (a link made by a child simulator)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.01)
    return path.exists()
