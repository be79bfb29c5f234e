"""Node-to-node calls: a node finds the others and their URLs in the shared store, and its signed
calls are let in with the role they carry, while a forged, altered or replayed one is refused."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import aiohttp
import pytest
from databases import PostgresDatabase, query
from node_harness import free_port, nodes

from farmctl.auth import Role
from farmctl.auth.peers import PeerAuth
from farmctl.farm.peer_client import PeerUnavailable
from farmctl.store import Store

pytestmark = pytest.mark.timeout(60)
SIMULATE = "/api/farm/automation/simulate"


async def test_a_node_lists_the_others_and_calls_them_with_the_role_it_acts_with(
        tmp_path: Path, postgres_database: PostgresDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b):
        live = await a.farm.model.nodes.live()
        assert [(n.name, n.url) for n in live] == [("b", b.url)]

        summary = await a.farm.peers.get_json(live[0].url, "/api/farm/summary")
        assert [p["name"] for p in summary["printers"]] == ["b-p1"], "b answers with its own printers"
        assert summary["user"] == {"name": "node a", "role": "viewer"}

        script = {"script": "G28", "event": "continuousprint_success"}
        refused = await a.farm.peers.request(b.url, "POST", SIMULATE, json=script, role=Role.VIEWER)
        assert refused.status == 403 and "operator" in refused.error
        allowed = await a.farm.peers.request(b.url, "POST", SIMULATE, json=script, role=Role.OPERATOR, user="ana")
        assert allowed.ok and "G28" in allowed.data["gcode"]

        secret = (await query(url, "SELECT secret FROM farm_secrets"))[0][0]
    assert len(secret) == 64 and secret not in caplog.text, "the secret is never logged"


async def test_a_forged_altered_or_replayed_call_is_refused(tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b):
        store = await Store.open(tmp_path / "another-farm.db")
        stranger = PeerAuth("a")  # a's name, another farm's secret
        await stranger.load(store, time.time())
        await store.close()
        async with aiohttp.ClientSession() as http:
            async def get(headers: dict[str, str]) -> tuple[int, dict]:
                async with http.get(f"{b.url}/api/farm/summary", headers=headers) as response:
                    return response.status, await response.json()

            status, body = await get(stranger.sign("GET", "/api/farm/summary", b"", time.time()))
            assert status == 403 and "signature is not valid" in body["error"]
            good = a.farm.peer_auth.sign("GET", "/api/farm/summary", b"", time.time())
            assert (await get({**good, "X-Farmctl-Role": "admin"}))[0] == 403, "the role is signed"
            assert (await get(good))[0] == 200
            assert (await get(good))[0] == 403, "the same call twice is a replay"
            with_key = a.farm.peer_auth.sign("GET", "/api/farm/summary", b"", time.time() - 120)
            assert (await get({**with_key, "X-Api-Key": a.key}))[0] == 403, "a stale signature is not saved by a key"

            async def chunks():
                yield b'{"script": "G28"}'
            signed = a.farm.peer_auth.sign("POST", SIMULATE, b'{"script": "G28"}', time.time(), Role.OPERATOR)
            async with http.post(f"{b.url}{SIMULATE}", data=chunks(), headers=signed) as response:
                assert response.status == 411, "a body of no stated length is not read into memory"
            big = b"x" * ((1 << 20) + 1)
            signed = a.farm.peer_auth.sign("POST", SIMULATE, big, time.time(), Role.OPERATOR)
            async with http.post(f"{b.url}{SIMULATE}", data=big, headers=signed) as response:
                assert response.status == 413


async def test_a_node_that_does_not_answer_is_a_clear_error(tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a",)) as (a,):
        away = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(PeerUnavailable, match=f"node at {away} did not answer GET /api/farm/summary"):
            await a.farm.peers.get_json(away, "/api/farm/summary")
