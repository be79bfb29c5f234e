"""CPU that small ``farmctl`` commands cost to start, against the interpreter's own start-up.

Each command runs as a child ``python -m farmctl ...``; its CPU (user + system, from
``os.wait4``'s resource usage) is taken, best of ``--repeat`` runs, since a loaded machine can
only add time. ``python -c pass`` is measured in the same run as the baseline, so the column
"over Python" is what farmctl itself costs.

    python bench/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def child_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) of one run of ``argv``; its output is discarded."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited with status {os.waitstatus_to_exitcode(status)}")
    return usage.ru_utime + usage.ru_stime


def best(argv: list[str], repeat: int) -> float:
    return min(child_cpu(argv) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command; the best is kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        farmctl = [sys.executable, "-m", "farmctl"]
        subprocess.run([*farmctl, "keys", "add", "bench", "--role", "viewer", "--data", data],
                       check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import asyncio'": [sys.executable, "-c", "import asyncio"],
            "farmctl --help": [*farmctl, "--help"],
            "farmctl --version": [*farmctl, "--version"],
            "farmctl keys list": [*farmctl, "keys", "list", "--data", data],
            "farmctl keys add": [*farmctl, "keys", "add", "b2", "--role", "viewer", "--data", data],
        }
        baseline = best(commands["python -c pass"], args.repeat)
        load = os.getloadavg()[0]
        print(f"CPU to start, best of {args.repeat} (load average {load:.1f}; {Path(sys.executable).name} "
              f"{sys.version.split()[0]})")
        print(f"{'command':32} {'CPU s':>7} {'over Python':>12}")
        for name, argv in commands.items():
            cpu = baseline if name == "python -c pass" else best(argv, args.repeat)
            print(f"{name:32} {cpu:7.3f} {cpu - baseline:12.3f}")


if __name__ == "__main__":
    main()
