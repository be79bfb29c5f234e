"""A key revoked from the command line while ``farmctl serve`` runs stops working everywhere,
including the logins already made with it (a stolen tablet's dashboard, a farm manager's socket)."""

from __future__ import annotations

import requests
from server_helpers import farmctl, wait_until
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from server_helpers import ServerProcess


def test_revoking_a_key_ends_the_sessions_made_with_it(server: ServerProcess) -> None:
    tablet = farmctl("keys", "add", "tablet", "--role", "operator", "--data", str(server.data)).splitlines()[-1]
    login = requests.post(f"{server.url}/api/login", json={"passive": True}, headers={"X-Api-Key": tablet}, timeout=5)
    assert login.status_code == 200, login.text
    session = requests.Session()
    session.cookies.update(login.cookies)
    assert session.get(f"{server.url}/api/farm/summary", timeout=5).status_code == 200  # the cookie alone
    [row] = [r for r in farmctl("keys", "list", "--data", str(server.data)).splitlines() if " tablet " in r]
    farmctl("keys", "revoke", row.split()[0], "--data", str(server.data))

    assert requests.get(f"{server.url}/api/job", headers={"X-Api-Key": tablet}, timeout=5).status_code == 403
    wait_until(lambda: session.get(f"{server.url}/api/farm/summary", timeout=5).status_code == 403,
               timeout=15, what="the revoked key's login to end")
    admin = {"X-Api-Key": server.keys["admin"]}
    assert requests.get(f"{server.url}/api/farm/summary", headers=admin, timeout=5).status_code == 200
