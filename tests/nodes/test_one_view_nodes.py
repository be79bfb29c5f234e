"""One view, two nodes in one process (each a whole Farm with its HTTP app, one PostgreSQL store):
node a's dashboard API lists b's printers marked with their node, its push channel carries their
changes, and an action or a bulk action for b's printer is done by b and answered through a."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from databases import PostgresDatabase
from node_harness import nodes

from farmctl.auth import Role

pytestmark = pytest.mark.timeout(60)


async def _json(http: aiohttp.ClientSession, method: str, url: str, key: str, body: dict | None = None):
    async with http.request(method, url, json=body, headers={"X-Api-Key": key}) as response:
        return response.status, await response.json()


async def test_a_lists_b_s_printers_and_forwards_their_actions(tmp_path: Path,
                                                               postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b), aiohttp.ClientSession() as http:
        status, listed = await _json(http, "GET", f"{a.url}/api/farm/printers", a.key)
        assert status == 200
        cards = {card["name"]: card for card in listed["printers"]}
        assert list(cards) == ["a-p1", "b-p1"]
        assert cards["a-p1"]["node"] == {"name": "a", "state": "up", "local": True}
        assert cards["b-p1"]["node"]["name"] == "b" and cards["b-p1"]["node"]["state"] == "up"
        assert cards["b-p1"]["state"]["id"] == "OPERATIONAL" and cards["b-p1"]["profile"] == "marlin2"
        status, own = await _json(http, "GET", f"{a.url}/api/farm/printers?scope=node", a.key)
        assert [card["name"] for card in own["printers"]] == ["a-p1"]
        status, summary = await _json(http, "GET", f"{a.url}/api/farm/summary", a.key)
        assert [(card["name"], card["node"]["name"]) for card in summary["printers"]] == [("a-p1", "a"), ("b-p1", "b")]

        async with http.ws_connect(f"{a.url}/api/farm/push?apikey={a.key}") as ws:
            snapshot = await _until_message(ws, "snapshot")
            assert [card["name"] for card in snapshot["printers"]] == ["a-p1", "b-p1"]
            status, answer = await _json(http, "POST", f"{a.url}/api/farm/printers/b-p1/action", a.key,
                                         {"action": "targets", "targets": {"tool0": 45}})
            assert status == 200, answer
            assert answer["printer"]["name"] == "b-p1" and answer["printer"]["node"]["name"] == "b"

            assert await _first_true(lambda: _target_is(http, b, "b-p1", 45), 50, 0.1), "b's printer took it"

            async def target_pushed() -> bool:  # b's change reaches a's page over b's channel and a's
                diff = await _until_message(ws, "diff")
                tool = ((diff["printers"].get("b-p1") or {}).get("temperatures") or {}).get("tool0") or {}
                return tool.get("target") == 45
            assert await _first_true(target_pushed, 8), "a's page hears of b's new target"

        status, answer = await _json(http, "POST", f"{a.url}/api/farm/bulk", a.key,
                                     {"action": "preheat", "preset": "PLA", "printers": ["b-p1", "a-p1"]})
        assert status == 200 and answer["results"] == [{"printer": "b-p1", "error": None},
                                                       {"printer": "a-p1", "error": None}]
        assert await _first_true(lambda: _target_is(http, b, "b-p1", 210), 50, 0.1), "PLA's 210 °C on b's printer"
        assert await _first_true(lambda: _target_is(http, a, "a-p1", 210), 50, 0.1), "and on a's own"

        part = b"G90\nM117 from a\nG1 X10 Y10 F3000\n"
        form = aiohttp.FormData()
        form.add_field("file", part, filename="part.gcode", content_type="application/octet-stream")
        async with http.post(f"{a.url}/api/farm/files", data=form, headers={"X-Api-Key": a.key}) as response:
            assert response.status == 201, await response.text()
        status, printed = await _json(http, "POST", f"{a.url}/api/farm/files/print", a.key,
                                      {"path": "part.gcode", "printers": ["b-p1"]})
        assert (status, printed) == (200, {"started": ["b-p1"], "refused": []}), printed
        assert (b.farm.uploads_dir / "part.gcode").read_bytes() == part, "b fetched a's upload to print it"
        assert b.farm.printers["b-p1"].selected == "part.gcode"

        status, detail = await _json(http, "GET", f"{a.url}/api/farm/printers/b-p1", a.key)
        assert status == 200 and detail["printer"]["node"]["name"] == "b" and detail["heaters"] == ["tool0", "bed"]
        async with http.get(f"{a.url}/api/farm/printers/b-p1/terminal?since=0&apikey={a.key}") as response:
            lines = await response.json()
        assert response.status == 200 and any("M104" in line for line in lines["logs"]), "b's wire, read through a"

        status, refused = await _json(http, "POST", f"{a.url}/api/farm/printers/b-p1/action", a.key,
                                      {"action": "pause"})
        assert (status, refused) == (409, {"error": "printer b-p1: no print job is running"}), "b's refusal, as b said it"

        async with a.farm.store.transaction() as tx:  # node c ran an hour ago, before a started, then went away
            await tx.nodes.beat("c", time.time() - 3600, url="http://127.0.0.1:9", started=True)
            await tx.nodes.set_printers("c", [("c-1", "Right MK4")], time.time() - 3600)

        async def c_listed() -> bool:
            status, listed = await _json(http, "GET", f"{a.url}/api/farm/printers", a.key)
            return any(card["name"] == "c-1" for card in listed["printers"])
        assert await _first_true(c_listed, 40, 0.1), "a lists c's printer from the store alone"
        status, listed = await _json(http, "GET", f"{a.url}/api/farm/printers", a.key)
        gone = next(card for card in listed["printers"] if card["name"] == "c-1")
        assert gone["displayName"] == "Right MK4" and gone["node"]["state"] == "gone"
        assert gone["state"]["id"] == "NODE_GONE" and gone["state"]["lastSeen"] is None
        status, refused = await _json(http, "POST", f"{a.url}/api/farm/printers/c-1/action", a.key, {"action": "home"})
        assert status == 409 and "node c, which went away" in refused["error"]

        viewer = await a.farm.auth.add_key("wall-screen", Role.VIEWER)
        status, refused = await _json(http, "POST", f"{a.url}/api/farm/printers/b-p1/action", viewer,
                                      {"action": "cooldown"})
        assert status == 403, "a viewer may not act on another node's printer either"


async def _target_is(http: aiohttp.ClientSession, node, printer: str, target: float) -> bool:
    """The printer's hotend target as its own node's OctoPrint API reports it (with its next temperature report)."""
    status, seen = await _json(http, "GET", f"{node.url}/printers/{printer}/api/printer", node.key)
    return status == 200 and (seen["temperature"].get("tool0") or {}).get("target") == target


async def _until_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict:
    while True:
        message = await ws.receive_json(timeout=10)
        if message.get("type") == kind:
            return message


async def _first_true(check, tries: int, pause: float = 0.0) -> bool:
    for _ in range(tries):
        if await check():
            return True
        await asyncio.sleep(pause)
    return False
