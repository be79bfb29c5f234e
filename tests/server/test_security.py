"""A LAN with other web pages and guessing clients: cookie sessions refuse cross-site changes, password
guesses and app-key requests are limited, and a push socket nobody logs in on is closed."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from farmctl.auth import Role
from farmctl.auth.throttle import FREE_FAILURES
from farmctl.http import push

BED = "/api/printer/bed"


def _bed_target(inproc) -> float:
    return inproc.farm.printers["p1"].sim.inspect(lambda fw: fw.bed.target)


async def _logged_in(inproc) -> str:
    """A browser's session cookie, from a password login."""
    await inproc.farm.auth.add_user("ann", "correct horse", Role.OPERATOR)
    response = await inproc.client.post("/api/login", json={"user": "ann", "pass": "correct horse"})
    assert response.status == 200
    return response.cookies["farmctl_session"].value


async def test_cookie_changes_only_from_farmctls_own_page_and_only_as_json(inproc) -> None:
    session = await _logged_in(inproc)
    client, own = inproc.client, f"http://{inproc.client.host}:{inproc.client.port}"
    cookie = {"Cookie": f"farmctl_session={session}"}
    body = '{"command": "target", "target": 55}'
    refused = [
        ({"Origin": "http://evil.example"}, "application/json", 403),
        ({"Referer": "http://evil.example/page.html"}, "application/json", 403),
        ({"Origin": "null"}, "application/json", 403),
        ({}, "application/json", 403),  # neither Origin nor Referer: not a page of ours
        ({"Origin": own}, "text/plain", 415),  # what a cross-site form can send without asking
        ({"Origin": own}, "application/x-www-form-urlencoded", 415),
    ]
    for extra, kind, status in refused:
        response = await client.post(BED, data=body, headers={**cookie, **extra, "Content-Type": kind})
        assert response.status == status, (extra, kind)
        assert "session cookie" in (await response.json())["error"]
    assert _bed_target(inproc) == 0
    assert (await client.get(BED, headers=cookie)).status == 200  # reading needs no origin
    ok = await client.post(BED, data=body, headers={**cookie, "Origin": own, "Content-Type": "application/json"})
    assert ok.status == 204
    by_referer = await client.post(BED, json={"command": "target", "target": 56},
                                   headers={**cookie, "Referer": own + "/"})
    assert by_referer.status == 204
    key = await client.post(BED, data='{"command": "target", "target": 57}',
                            headers={**inproc.headers, "Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert key.status == 204  # an API key is not sent by a browser on its own: no origin check


async def test_cookie_upload_from_own_page_as_multipart(inproc) -> None:
    session = await _logged_in(inproc)
    own = f"http://{inproc.client.host}:{inproc.client.port}"
    form = aiohttp.FormData()
    form.add_field("file", b"G28\n", filename="cookie.gcode")
    response = await inproc.client.post("/api/farm/files", data=form,
                                        headers={"Cookie": f"farmctl_session={session}", "Origin": own})
    assert response.status == 201
    assert (inproc.uploads / "cookie.gcode").read_bytes() == b"G28\n"


async def test_login_over_http_answers_429_with_retry_after(inproc) -> None:
    await inproc.farm.auth.add_user("bob", "right", Role.VIEWER)
    statuses = []
    for _ in range(FREE_FAILURES + 2):
        response = await inproc.client.post("/api/login", json={"user": "bob", "pass": "nope"})
        statuses.append(response.status)
    assert statuses == [403] * (FREE_FAILURES + 1) + [429]
    assert int(response.headers["Retry-After"]) >= 1
    assert "too many wrong passwords" in (await response.json())["error"]


async def test_app_key_requests_without_a_key_are_limited_per_client(inproc) -> None:
    answers = [await inproc.client.post("/plugin/appkeys/request", json={"app": f"app{n}"}) for n in range(7)]
    assert [a.status for a in answers] == [201] * 5 + [429] * 2
    assert int(answers[-1].headers["Retry-After"]) > 0
    keyed = await inproc.client.post("/plugin/appkeys/request", json={"app": "mine"}, headers=inproc.headers)
    assert keyed.status == 201  # a caller with a key is not the flood this guards against
    assert len(await inproc.farm.auth.pending_requests()) == 6


async def test_push_socket_without_auth_is_closed(inproc, monkeypatch) -> None:
    monkeypatch.setattr(push, "AUTH_TIMEOUT", 0.5)
    started = time.monotonic()
    async with inproc.client.ws_connect("/sockjs/websocket") as ws:
        first = await ws.receive_json(timeout=5)
        assert "connected" in first
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert 0.4 < time.monotonic() - started < 3


async def test_push_socket_that_authenticates_stays_open(inproc, monkeypatch) -> None:
    monkeypatch.setattr(push, "AUTH_TIMEOUT", 0.5)
    login = await inproc.client.post("/api/login", json={"passive": True}, headers=inproc.headers)
    record = await login.json()
    async with inproc.client.ws_connect("/sockjs/websocket") as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"auth": f"{record['name']}:{record['session']}"})
        assert "history" in await ws.receive_json(timeout=5)
        await asyncio.sleep(1.0)
        kinds = set()
        while "current" not in kinds:
            kinds |= set(await ws.receive_json(timeout=5))
        assert not ws.closed
