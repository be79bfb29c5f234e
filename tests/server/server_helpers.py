"""A real ``farmctl serve`` child process on 127.0.0.1, and helpers shared by the server tests.

The server runs exactly as an operator starts it (``python -m farmctl serve --config ...``), on a
free port, with its own data folder and simulated printers over real ptys. API keys come from the
``farmctl keys add`` command line, like an operator would make them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

CP = "/plugin/continuousprint"
START_TIMEOUT = 15.0
NO_HOOKS = '{"scripts": {}, "preprocessors": {}, "events": {}}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def farm_toml(*names: str, profile: str = "marlin2") -> str:
    """A farm.toml with one simulated printer per name."""
    return "".join(f'[[printers]]\nname = "{n}"\nport = "sim"\nprofile = "{profile}"\n\n' for n in names)


def everything_in(folder: Path) -> list[str]:
    """Every file and folder below ``folder``, hidden ones too, except farmctl's own metadata cache."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".farmctl-meta"]
        found += [os.path.relpath(os.path.join(root, name), folder) for name in dirs + files]
    return sorted(found)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def run_farmctl(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run the ``farmctl`` command line as an operator would, whatever its exit status."""
    return subprocess.run([sys.executable, "-m", "farmctl", *args], capture_output=True, text=True,
                          timeout=timeout)


def farmctl(*args: str, timeout: float = 20.0) -> str:
    """Run the ``farmctl`` command line; its stdout (it must succeed)."""
    done = run_farmctl(*args, timeout=timeout)
    assert done.returncode == 0, f"farmctl {' '.join(args)} failed: {done.stderr}"
    return done.stdout


class ServerProcess:
    """``farmctl serve`` as a child process; ``start()``, ``kill()`` (SIGKILL) and ``stop()`` (SIGTERM)."""

    def __init__(self, root: Path, config: str, sim_speed: str = "fast") -> None:
        self.root = root
        self.data = root / "data"
        self.uploads = self.data / "uploads"
        self.config_path = root / "farm.toml"
        self.config_path.write_text(config)
        self.sim_speed = sim_speed
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.keys: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cp(self, printer: str | None = None) -> str:
        """Continuous Print's base URL: a printer's, or the plain one."""
        return f"{self.url}/printers/{printer}{CP}" if printer else f"{self.url}{CP}"

    @property
    def farm_cp(self) -> str:
        return f"{self.url}/farm{CP}"

    def start(self, sim_speed: str | None = None) -> ServerProcess:
        assert self.proc is None, "already running"
        self.starts += 1
        self.port = free_port()
        log = open(self.root / f"serve-{self.starts}.log", "wb")  # noqa: SIM115 - kept for the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "farmctl", "serve", "--data", str(self.data), "--port", str(self.port),
             "--sim-speed", sim_speed or self.sim_speed, "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(self._answers, START_TIMEOUT, f"farmctl serve to answer on port {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"farmctl serve exited with {self.proc.returncode}:\n{self.log()}")
        try:
            requests.get(f"{self.url}/plugin/appkeys/probe", timeout=1)
        except requests.ConnectionError:
            return False
        return True

    def wait_connected(self, *printers: str, timeout: float = 20.0) -> None:
        """Until each printer answers ``/api/printer`` (connected and Operational), as a person finds it."""
        headers = {"X-Api-Key": next(iter(self.keys.values()))}
        for name in printers:
            wait_until(lambda: requests.get(f"{self.url}/printers/{name}/api/printer", headers=headers,
                                            timeout=10).ok, timeout, f"printer {name} to connect")

    def log(self) -> str:
        return (self.root / f"serve-{self.starts}.log").read_text(errors="replace")

    def add_key(self, role: str = "admin") -> str:
        """A new key of ``role`` from ``farmctl keys add`` (the key is the last line it prints)."""
        out = farmctl("keys", "add", f"test-{role}-{len(self.keys)}", "--data", str(self.data), "--role", role)
        key = out.strip().splitlines()[-1].strip()
        self.keys[role] = key
        return key

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a power cut of the host process."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class Client:
    """``requests`` with the key header, against one Continuous Print base URL."""

    def __init__(self, base: str, key: str | None) -> None:
        self.base = base
        self.headers = {"X-Api-Key": key} if key else {}

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(f"{self.base}/{path}", headers=self.headers, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return requests.post(f"{self.base}/{path}", headers=self.headers, timeout=10, **kw)

    def state(self) -> dict[str, Any]:
        response = self.get("state/get")
        assert response.status_code == 200, response.text
        return response.json()

    def history(self) -> list[dict[str, Any]]:
        response = self.get("history/get")
        assert response.status_code == 200, response.text
        return response.json()

    def no_hooks(self) -> None:
        """No bed-clearing or finish pause between prints: copies print back to back."""
        response = self.post("automation/edit", data={"json": NO_HOOKS})
        assert response.status_code == 200, response.text


def local_jobs(state: dict[str, Any]) -> list[dict[str, Any]]:
    return next(q for q in state["queues"] if q["name"] == "local")["jobs"]


def finished(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Closed runs, oldest first (history/get is newest first)."""
    return [run for run in reversed(history) if run["result"] is not None]
