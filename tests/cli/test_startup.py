"""Small commands load only what they run: no web server, serial stack or printer for ``keys list``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("aiohttp", "serial", "farmctl.printer", "farmctl.http", "farmctl.farm", "farmctl.sim.printer")
_RUN = """
import json, os, sys
from farmctl.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
heavy = sorted(m for m in sys.modules if m.startswith(tuple(os.environ["HEAVY"].split())))
print(json.dumps({"status": status, "heavy": heavy}))
"""


def run(*argv: str) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", _RUN, *argv], env=dict(os.environ, HEAVY=" ".join(HEAVY)),
                          capture_output=True, text=True, timeout=60)
    *output, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(output)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["sim", "--help"], ["keys", "--help"]])
def test_help_loads_no_command_body(argv: list[str]) -> None:
    result, output = run(*argv)
    assert result == {"status": 0, "heavy": []}
    assert "usage: farmctl" in output or output.startswith("farmctl ")


def test_keys_add_and_list_load_no_web_server_or_serial_stack(tmp_path: Path) -> None:
    added, output = run("keys", "add", "octopod", "--role", "viewer", "--data", str(tmp_path))
    assert added == {"status": 0, "heavy": []} and len(output.splitlines()[-1]) >= 43
    listed, output = run("keys", "list", "--data", str(tmp_path))
    assert listed == {"status": 0, "heavy": []}
    assert "octopod" in output and "viewer" in output
