"""App-key requests decided from the command line while ``farmctl serve`` runs: an app polls the
server with ``requests`` as Cura or Home Assistant do, and ``farmctl keys requests|approve|deny``
runs as its own process against the same data folder."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests
from server_helpers import farmctl, run_farmctl, wait_until
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the fixtures' type; each folder's conftest is its own module
    from server_helpers import ServerProcess

pytestmark = pytest.mark.timeout(60)

POLL_EVERY = 0.5


def ask(server: ServerProcess, app: str) -> str:
    """Request a key as an app does; the URL to poll (the Location header)."""
    assert requests.get(f"{server.url}/plugin/appkeys/probe", timeout=5).status_code == 204
    asked = requests.post(f"{server.url}/plugin/appkeys/request", json={"app": app}, timeout=5)
    assert asked.status_code == 201, asked.text
    return asked.headers["Location"]


def poll_until_decided(location: str) -> requests.Response:
    """Poll every half second while the answer is 202 (pending); the first other answer."""
    while (answer := requests.get(location, timeout=5)).status_code == 202:
        time.sleep(POLL_EVERY)
    return answer


def request_id(server: ServerProcess, app: str) -> str:
    """The id ``farmctl keys requests`` lists for ``app``'s request."""
    listing = farmctl("keys", "requests", "--data", str(server.data))
    header, *rows = listing.splitlines()
    assert header.split() == ["ID", "APP", "USER", "AGE"]
    [row] = [r for r in rows if f" {app} " in r]
    assert row.split()[-1].endswith("s")  # the age, e.g. "1s"
    return row.split()[0]


def test_an_app_polls_and_gets_a_working_key_once_approved_from_the_command_line(server: ServerProcess) -> None:
    location = ask(server, "Cura")
    with ThreadPoolExecutor(1) as pool:
        polled: Future[requests.Response] = pool.submit(poll_until_decided, location)
        listing = farmctl("keys", "requests", "--data", str(server.data))
        assert location.rsplit("/", 1)[-1] not in listing  # the poll token is the app's secret
        approved = farmctl("keys", "approve", request_id(server, "Cura"), "--role", "viewer",
                           "--data", str(server.data))
        assert "approved" in approved and "viewer" in approved
        answer = polled.result(timeout=10)
    assert answer.status_code == 200, answer.text
    key = answer.json()["api_key"]
    assert key not in approved  # only the app ever sees the key
    again = requests.get(location, timeout=5)
    assert again.status_code == 404 and "error" in again.json()  # handed out once

    headers = {"X-Api-Key": key}
    version = requests.get(f"{server.url}/api/version", headers=headers, timeout=5)
    assert version.status_code == 200 and version.json()["text"].startswith("OctoPrint")
    assert requests.get(f"{server.url}/api/job", headers=headers, timeout=5).status_code == 200
    refused = requests.post(f"{server.url}/api/job", headers=headers, json={"command": "start"}, timeout=5)
    assert refused.status_code == 403  # the role given on the command line holds
    keys = farmctl("keys", "list", "--data", str(server.data))
    [row] = [r for r in keys.splitlines() if " Cura " in r]
    assert row.split()[1:4] == ["Cura", "Cura", "viewer"] and key not in keys
    assert "no app key requests are waiting" in farmctl("keys", "requests", "--data", str(server.data))


def test_denied_from_the_command_line_is_404_and_an_unpolled_request_expires(server: ServerProcess) -> None:
    forgotten = ask(server, "Forgotten")  # asked, then never polled
    asked_at = time.monotonic()
    location = ask(server, "Home Assistant")
    with ThreadPoolExecutor(1) as pool:
        polled = pool.submit(poll_until_decided, location)
        forgotten_id = request_id(server, "Forgotten")
        denied = farmctl("keys", "deny", request_id(server, "Home Assistant"), "--data", str(server.data))
        assert "denied" in denied
        answer = polled.result(timeout=10)
    assert answer.status_code == 404 and "denied" in answer.json()["error"]

    wait_until(lambda: time.monotonic() - asked_at > 5.2, 10, "the unpolled request to pass 5 s")
    late = run_farmctl("keys", "approve", forgotten_id, "--data", str(server.data))
    assert late.returncode == 2 and late.stdout == ""
    assert late.stderr.count("\n") == 1 and "Traceback" not in late.stderr and "expired" in late.stderr
    assert requests.get(forgotten, timeout=5).status_code == 404
    assert "Forgotten" not in farmctl("keys", "requests", "--data", str(server.data))
    keys = farmctl("keys", "list", "--data", str(server.data))
    assert "Forgotten" not in keys and "Home Assistant" not in keys
