"""``farmctl keys add|list|revoke|requests|approve|deny`` and ``farmctl users add``: manage who may use the farm.

The database is ``<data>/farmctl.db`` (``--data``, default ``./farm-data``), or the PostgreSQL
database the farm.toml given with ``--config`` names, and every command works while the server runs. ``keys add`` prints the new key alone on its last line so scripts can take
it with ``tail -n 1``; it is never shown again. ``keys approve`` decides an app's OctoPrint key
request; the key goes to the app's next poll, never to this terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from farmctl.auth.keys import key_owner
from farmctl.auth.roles import Role
from farmctl.errors import FarmctlError

if TYPE_CHECKING:
    from farmctl.auth.service import AuthService

DEFAULT_DATA = Path("farm-data")
_ROLES = "|".join(r.value for r in Role)
_REQUEST_ID_HELP = "the request's id, as 'farmctl keys requests' shows it"

T = TypeVar("T")


def register_keys(keys: argparse.ArgumentParser) -> None:
    keys.description = "Add, list and revoke API keys; approve or deny app key requests."
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = _action(key_commands, "add", run_keys_add, "create an API key and print it once",
                  "Create an API key; its text is printed alone on the last line.")
    add.add_argument("name", metavar="NAME", help="what the key is for, e.g. the app's name")
    add.add_argument("--role", default=Role.OPERATOR.value, metavar=_ROLES,
                     help="what the key may do (default %(default)s)")
    add.add_argument("--user", default=None, help="the user the key belongs to (default: one named like the key)")

    _action(key_commands, "list", run_keys_list, "list API keys (never their text)",
            "List API keys: id, name, user, role, created, last used.")
    revoke = _action(key_commands, "revoke", run_keys_revoke, "delete an API key", "Delete an API key by id.")
    revoke.add_argument("id", metavar="ID", help="the key's id, as 'farmctl keys list' shows it")

    _action(key_commands, "requests", run_keys_requests, "list app key requests waiting for a decision",
            "List the app key requests (OctoPrint's /plugin/appkeys) waiting for a decision: id, app, user, "
            "age. A request is gone once its app stops polling for 5 seconds.")
    approve = _action(key_commands, "approve", run_keys_approve,
                      "approve an app key request; the app's next poll gets the key",
                      "Approve an app key request by id. The key is made when the app next polls, and only "
                      "the app sees it.")
    approve.add_argument("id", metavar="ID", help=_REQUEST_ID_HELP)
    approve.add_argument("--role", default=Role.OPERATOR.value, metavar=_ROLES,
                         help="what the key may do (default %(default)s)")
    approve.add_argument("--user", default=None,
                         help="the user the key belongs to (default: the one the app asked for, else one "
                              "named like the app)")
    deny = _action(key_commands, "deny", run_keys_deny, "deny an app key request",
                   "Deny an app key request by id; the app's next poll gets 404.")
    deny.add_argument("id", metavar="ID", help=_REQUEST_ID_HELP)


def register_users(users: argparse.ArgumentParser) -> None:
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    user_add = user_commands.add_parser(
        "add", help="add a user; the password is read from stdin",
        description="Add a user. The password is asked for twice on a terminal, else read as one line of stdin.",
    )
    user_add.add_argument("name", metavar="NAME")
    user_add.add_argument("--role", default=Role.OPERATOR.value, metavar=_ROLES,
                          help="what the user may do (default %(default)s)")
    _data_option(user_add)
    user_add.set_defaults(run=run_users_add)


def _action(commands: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int],
            summary: str, description: str) -> argparse.ArgumentParser:
    """A ``keys`` action that takes ``--data``."""
    parser = commands.add_parser(name, help=summary, description=description)
    _data_option(parser)
    parser.set_defaults(run=run)
    return parser


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="DIR",
                        help="data folder holding farmctl.db (default ./%(default)s)")
    parser.add_argument("--config", type=Path, default=None, metavar="FARM_TOML",
                        help="the farm.toml the server runs with, when it names a shared database")


def run_keys_add(args: argparse.Namespace) -> int:
    role = Role.parse(args.role)
    key = _with_auth(args, lambda auth: auth.add_key(args.name, role, args.user))
    owner = key_owner(args.name, args.user)
    print(f"API key {args.name.strip()!r} for user {owner!r}, role {role.value}; "
          "it is shown only now:")
    print(key, flush=True)
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    keys = _with_auth(args, lambda auth: auth.list_keys())
    rows = [("ID", "NAME", "USER", "ROLE", "CREATED", "LAST USED")]
    rows += [(str(k.id), k.name, k.user, k.role, _when(k.created), _when(k.last_used)) for k in keys]
    print(_table(rows) if keys else "no API keys")
    return 0


def run_keys_revoke(args: argparse.Namespace) -> int:
    key_id = _number(args.id, "a key id", "farmctl keys list")
    _with_auth(args, lambda auth: auth.revoke_key(key_id))
    print(f"API key {key_id} revoked")
    return 0


def run_keys_requests(args: argparse.Namespace) -> int:
    waiting = _with_auth(args, lambda auth: auth.pending_requests())
    now = time.time()
    rows = [("ID", "APP", "USER", "AGE")]
    rows += [(str(r.id), r.app, r.user or "-", _age(now - r.created)) for r in waiting]
    print(_table(rows) if waiting else "no app key requests are waiting")
    return 0


def run_keys_approve(args: argparse.Namespace) -> int:
    request_id = _number(args.id, "a request id", "farmctl keys requests")
    role = Role.parse(args.role)
    granted = _with_auth(args, lambda auth: auth.decide(request_id, True, role, user=args.user))
    assert granted.role is not None
    print(f"app key request {request_id} of {granted.app!r} approved: its next poll gets a {granted.role.value} "
          f"key for user {granted.owner!r}")
    return 0


def run_keys_deny(args: argparse.Namespace) -> int:
    request_id = _number(args.id, "a request id", "farmctl keys requests")
    denied = _with_auth(args, lambda auth: auth.decide(request_id, False))
    print(f"app key request {request_id} of {denied.app!r} denied")
    return 0


def _number(text: str, what: str, shown_by: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise FarmctlError(f"{what} is a number, as '{shown_by}' shows it, not {text!r}")
    return int(text)


def run_users_add(args: argparse.Namespace) -> int:
    role = Role.parse(args.role)
    password = read_password(sys.stdin)
    user = _with_auth(args, lambda auth: auth.add_user(args.name, password, role))
    print(f"user {user.name!r} added with role {user.role}")
    return 0


def read_password(stdin: TextIO) -> str:
    """Without echo, twice, on a terminal; otherwise the first line of stdin."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise FarmctlError("the two passwords differ")
        return first
    line = stdin.readline()
    if not line:
        raise FarmctlError("no password on stdin")
    return line.rstrip("\r\n")


def _with_auth(args: argparse.Namespace, work: Callable[[AuthService], Awaitable[T]]) -> T:
    database = None
    if args.config is not None:  # farm.toml only when given: it may name a database server
        from farmctl.farm.config import load_config

        database = load_config(args.config).database
    return asyncio.run(_open_and_run(args.data, database, work))


async def _open_and_run(data: Path, database: str | None, work: Callable[[AuthService], Awaitable[T]]) -> T:
    from farmctl.auth.service import AuthService  # the store only when a command needs it
    from farmctl.data_folder import DATABASE_NAME
    from farmctl.store import Store

    if database is None:
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FarmctlError(f"cannot create data folder {data}: {exc.strerror or exc}") from exc
    where = database or data / DATABASE_NAME
    try:
        store = await Store.open(where, busy_timeout=30.0)  # a person at a terminal waits out a busy server
    except (sqlite3.Error, OSError) as exc:
        raise FarmctlError(f"cannot open {where}: {exc}") from exc
    try:
        return await work(AuthService(store))
    finally:
        await store.close()


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
