"""aiomqtt is an optional extra: a farm without a broker serves without it; one with a broker says what to install."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)

WITHOUT_AIOMQTT = ("import sys; sys.modules['aiomqtt'] = None; from farmctl.cli import main; "
                   "sys.exit(main(sys.argv[1:]))")
PRINTER = '[[printers]]\nname = "p1"\nport = "sim"\nprofile = "marlin2"\n'


def _serve(tmp_path: Path, farm_toml: str) -> subprocess.Popen[str]:
    (tmp_path / "farm.toml").write_text(farm_toml)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return subprocess.Popen([sys.executable, "-c", WITHOUT_AIOMQTT, "serve", "--config", str(tmp_path / "farm.toml"),
                             "--data", str(tmp_path / "data"), "--port", str(port), "--sim-speed", "fast"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_farm_without_a_broker_serves_without_aiomqtt(tmp_path: Path) -> None:
    server = _serve(tmp_path, PRINTER)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("farmctl: serving 1 printer(s) (p1)"), first + server.stderr.read()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=10)
    assert server.returncode == 0


def test_a_farm_with_a_broker_but_no_aiomqtt_says_what_to_install(tmp_path: Path) -> None:
    server = _serve(tmp_path, 'mqtt = { host = "127.0.0.1" }\n' + PRINTER)
    out, err = server.communicate(timeout=20)
    assert server.returncode == 2
    assert "aiomqtt is not installed (pip install 'farmctl[mqtt]')" in err
    assert "Traceback" not in err and not (tmp_path / "data").exists(), "nothing started"
