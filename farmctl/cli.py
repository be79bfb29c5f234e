"""The ``farmctl`` command: one sub-command per job, each registered by the module that does it."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from farmctl import __version__
from farmctl.errors import FarmctlError

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("farmctl.serve_command:register", "run the farm server (a demo farm of simulated printers without --config)"),
    "print": ("farmctl.print_command:register", "stream one G-code file to one printer"),
    "sim": ("farmctl.sim.command:register", "run a simulated Marlin printer on a pseudo-terminal"),
    "keys": ("farmctl.auth.command:register_keys", "add, list and revoke API keys; decide app key requests"),
    "users": ("farmctl.auth.command:register_users", "add users who log in with a password"),
}
"""Each command's one-line help and the function that adds its arguments to its parser.

Only the module of the command being run is imported: ``farmctl --help`` lists the commands without
loading any of them (asyncio alone costs a small command about 0.09 s CPU here)."""


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farmctl", description="Print-farm controller for Marlin printers.")
    parser.add_argument("--version", action="version", version=f"farmctl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((word for word in argv if not word.startswith("-")), None)
    for name, (where, summary) in COMMANDS.items():
        command = subparsers.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        if name == chosen:
            module, function = where.split(":")
            getattr(importlib.import_module(module), function)(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; a FarmctlError becomes one line on stderr and exit status 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command in ("keys", "users"):  # what they change belongs in the farm's audit log too
            from farmctl.logs import log_to_file

            log_to_file(args.data)
        return int(args.run(args) or 0)
    except FarmctlError as exc:
        print(f"farmctl: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("farmctl: interrupted", file=sys.stderr)
        return 130
