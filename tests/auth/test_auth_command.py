"""``farmctl keys`` and ``farmctl users`` run as a child process, as an operator would."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from farmctl.auth import AppKeyState, AuthService, Role
from farmctl.store import Store

def farmctl(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "farmctl", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


async def _auth_for(data: Path) -> tuple[AuthService, Store]:
    store = await Store.open(data / "farmctl.db")
    return AuthService(store), store


async def test_keys_add_prints_a_working_key_on_its_last_line(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"  # created on demand
    done = farmctl(tmp_path, "keys", "add", "ci", "--role", "viewer", "--data", str(data))
    assert done.returncode == 0, done.stderr
    key = done.stdout.splitlines()[-1]
    assert key.strip() == key and " " not in key and len(key) >= 43
    auth, store = await _auth_for(data)
    try:
        principal = await auth.check_key(key)
        assert principal is not None and (principal.user, principal.role) == ("ci", Role.VIEWER)
    finally:
        await store.close()


def test_a_bad_role_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = farmctl(tmp_path, "keys", "add", "ci", "--role", "root", "--data", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr == "farmctl: unknown role 'root'; known roles: admin, operator, viewer\n"


async def test_list_and_revoke(tmp_path: Path) -> None:
    key = farmctl(tmp_path, "keys", "add", "OctoPod", "--data", str(tmp_path)).stdout.splitlines()[-1]
    farmctl(tmp_path, "keys", "add", "spare", "--role", "admin", "--data", str(tmp_path))
    listing = farmctl(tmp_path, "keys", "list", "--data", str(tmp_path))
    assert listing.returncode == 0, listing.stderr
    header, first, second = listing.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "USER", "ROLE", "CREATED", "LAST", "USED"]
    assert first.split()[:4] == ["1", "OctoPod", "OctoPod", "operator"] and first.endswith("never")
    assert second.split()[:4] == ["2", "spare", "spare", "admin"]
    assert key not in listing.stdout

    revoked = farmctl(tmp_path, "keys", "revoke", "1", "--data", str(tmp_path))
    assert revoked.returncode == 0, revoked.stderr
    auth, store = await _auth_for(tmp_path)
    try:
        assert await auth.check_key(key) is None
    finally:
        await store.close()
    again = farmctl(tmp_path, "keys", "revoke", "1", "--data", str(tmp_path))
    assert (again.returncode, again.stderr) == (2, "farmctl: no API key has id 1\n")
    not_a_number = farmctl(tmp_path, "keys", "revoke", "first", "--data", str(tmp_path))
    assert not_a_number.returncode == 2 and not_a_number.stderr.count("\n") == 1


async def test_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    done = farmctl(tmp_path, "users", "add", "alice", "--role", "admin", stdin="s3cret pass\n")
    assert done.returncode == 0, done.stderr
    data = tmp_path / "farm-data"  # the default folder, relative to where farmctl runs
    auth, store = await _auth_for(data)
    try:
        principal = await auth.verify_password("alice", "s3cret pass")
        assert principal is not None and principal.role is Role.ADMIN
    finally:
        await store.close()
    empty = farmctl(tmp_path, "users", "add", "bob", stdin="")
    assert empty.returncode == 2 and "password" in empty.stderr and "Traceback" not in empty.stderr


@contextlib.asynccontextmanager
async def _app_polling(auth: AuthService, token: str) -> AsyncIterator[None]:
    """The app polls its request every second, as a real one does (a request left unpolled for 5 s
    expires, and a loaded machine can take that long for a few command-line runs)."""
    async def poll() -> None:
        while True:
            await auth.poll(token)
            await asyncio.sleep(1.0)

    poller = asyncio.create_task(poll())
    try:
        yield
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller


async def test_keys_approve_chooses_role_and_user_and_bad_input_is_one_line(tmp_path: Path) -> None:
    data = str(tmp_path)
    empty = farmctl(tmp_path, "keys", "requests", "--data", data)
    assert (empty.returncode, empty.stdout) == (0, "no app key requests are waiting\n")
    auth, store = await _auth_for(tmp_path)
    try:
        token = await auth.request_app_key("OctoPod")
        async with _app_polling(auth, token):
            listed = await asyncio.to_thread(farmctl, tmp_path, "keys", "requests", "--data", data)
            [row] = listed.stdout.splitlines()[1:]
            assert row.split()[:3] == ["1", "OctoPod", "-"]
            for args, message in [
                (("approve", "first"), "a request id is a number, as 'farmctl keys requests' shows it, not 'first'"),
                (("approve", "7"), "no app key request 7 is waiting for a decision (unknown)"),
                (("deny", "7"), "no app key request 7 is waiting for a decision (unknown)"),
                (("approve", "1", "--role", "root"), "unknown role 'root'; known roles: admin, operator, viewer"),
                (("approve", "1", "--user", "_api"), "'_api' is reserved and cannot be a user name"),
            ]:
                refused = await asyncio.to_thread(farmctl, tmp_path, "keys", *args, "--data", data)
                assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", f"farmctl: {message}\n"), args
                assert await auth.poll(token) == (AppKeyState.PENDING, None)  # nothing was decided
        approved = farmctl(tmp_path, "keys", "approve", "1", "--role", "admin", "--user", "bob", "--data", data)
        assert approved.returncode == 0, approved.stderr
        state, key = await auth.poll(token)
        assert state is AppKeyState.GRANTED and key is not None
        principal = await auth.check_key(key)
        assert principal is not None and (principal.user, principal.role) == ("bob", Role.ADMIN)
    finally:
        await store.close()
