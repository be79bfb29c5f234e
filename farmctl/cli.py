"""The ``farmctl`` command: one sub-command per job, each registered by the module that does it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from farmctl import __version__
from farmctl.errors import FarmctlError

Register = Callable[[argparse._SubParsersAction], None]


def _registrars() -> list[Register]:
    from farmctl import print_command, serve_command
    from farmctl.auth import command as auth_command
    from farmctl.sim import command as sim_command

    return [serve_command.register, print_command.register, sim_command.register, auth_command.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farmctl", description="Print-farm controller for Marlin printers.")
    parser.add_argument("--version", action="version", version=f"farmctl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log protocol details to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _registrars():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; a FarmctlError becomes one line on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
