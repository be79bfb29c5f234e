"""Small commands load only what they run: no web server, serial stack or printer for ``keys list``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("aiohttp", "serial", "farmctl.printer", "farmctl.http", "farmctl.farm", "farmctl.sim.printer")
COMMAND_BODIES = ("asyncio", "farmctl.print_command", "farmctl.serve_command", "farmctl.auth.command",
                  "farmctl.sim.command")
"""What listing the commands needs none of: asyncio alone is most of a small command's start-up."""
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


def run(*argv: str, heavy: tuple[str, ...] = HEAVY) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", _RUN, *argv], env=dict(os.environ, HEAVY=" ".join(heavy)),
                          capture_output=True, text=True, timeout=60)
    *output, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(output)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-v", "--help"]])
def test_listing_the_commands_loads_none_of_them(argv: list[str]) -> None:
    result, output = run(*argv, heavy=HEAVY + COMMAND_BODIES)
    assert result == {"status": 0, "heavy": []}
    assert "usage: farmctl" in output or output.startswith("farmctl ")
    if "--help" in argv:
        assert all(name in output for name in ("serve", "print", "sim", "keys", "users"))


@pytest.mark.parametrize("argv", [["sim", "--help"], ["keys", "--help"], ["keys", "list", "--help"]])
def test_a_commands_help_loads_only_that_command(argv: list[str]) -> None:
    result, output = run(*argv)
    assert result == {"status": 0, "heavy": []}
    assert f"usage: farmctl {' '.join(argv[:-1])}" in output


def test_keys_add_and_list_load_no_web_server_or_serial_stack(tmp_path: Path) -> None:
    added, output = run("keys", "add", "octopod", "--role", "viewer", "--data", str(tmp_path))
    assert added == {"status": 0, "heavy": []} and len(output.splitlines()[-1]) >= 43
    listed, output = run("keys", "list", "--data", str(tmp_path))
    assert listed == {"status": 0, "heavy": []}
    assert "octopod" in output and "viewer" in output
