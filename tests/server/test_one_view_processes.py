"""One view across two ``farmctl serve`` processes on one PostgreSQL store, with simulated printers:
node a's dashboard API and page show node b's printers, an action sent through a is done by b's
printer, and once b is killed (SIGKILL) a marks b's printers as gone and refuses their actions."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from databases import PostgresDatabase
from server_helpers import ServerProcess, farmctl, wait_until

sys.path.insert(0, str(Path(__file__).parent.parent / "dashboard"))  # the browser tests' helpers
from dashboard_harness import CHROMIUM, Served, chromium, log_in, screenshot, serious_violations  # noqa: E402

pytestmark = pytest.mark.timeout(60)


class TwoNodes:
    def __init__(self, a: ServerProcess, b: ServerProcess, key: str) -> None:
        self.a, self.b, self.key = a, b, key

    def get(self, node: ServerProcess, path: str) -> Any:
        response = requests.get(node.url + path, headers={"X-Api-Key": self.key}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, node: ServerProcess, path: str, body: dict) -> requests.Response:
        return requests.post(node.url + path, json=body, headers={"X-Api-Key": self.key}, timeout=10)

    def cards_on_a(self) -> dict[str, dict]:
        return {card["name"]: card for card in self.get(self.a, "/api/farm/printers")["printers"]}

    def target_on_b(self, printer: str) -> float | None:
        """The hotend target b's own OctoPrint API reports for its printer."""
        tool = self.get(self.b, f"/printers/{printer}/api/printer")["temperature"].get("tool0") or {}
        return tool.get("target")


@pytest.fixture
def two_nodes(tmp_path: Path, postgres_database: PostgresDatabase) -> Iterator[TwoNodes]:
    url = postgres_database.fresh_install()
    shared = f'database = "{url}"\nnode_timeout = 2\n'
    printers = {"a": ("a-1",), "b": ("b-1", "b-2")}
    nodes = []
    for name, names in printers.items():
        (tmp_path / name).mkdir()
        toml = shared + f'node = "{name}"\n' + "".join(
            f'[[printers]]\nname = "{p}"\nport = "sim"\nprofile = "marlin2"\n' for p in names)
        nodes.append(ServerProcess(tmp_path / name, toml))
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServerProcess.start, nodes))
        key = farmctl("keys", "add", "browser", "--role", "admin", "--config", str(nodes[0].config_path),
                      "--data", str(nodes[0].data)).strip().splitlines()[-1]
        yield TwoNodes(nodes[0], nodes[1], key)
    finally:
        for node in nodes:
            node.kill()


async def test_a_shows_and_drives_b_s_printers_and_marks_them_gone_after_b_is_killed(two_nodes: TwoNodes) -> None:
    """One scenario, checked through a's API and a's page side by side (two processes start once)."""
    from playwright.async_api import expect

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    nodes = two_nodes

    def b_reported() -> dict[str, dict] | None:
        cards = nodes.cards_on_a()
        return cards if all(cards.get(p, {}).get("state", {}).get("id") == "OPERATIONAL" for p in ("b-1", "b-2")) \
            else None
    cards = await asyncio.to_thread(wait_until, b_reported, 15, "node a to list b's printers as b reports them", 0.2)
    assert list(cards) == ["a-1", "b-1", "b-2"]
    assert cards["a-1"]["node"] == {"name": "a", "state": "up", "local": True}
    assert {cards[p]["node"]["name"] for p in ("b-1", "b-2")} == {"b"}
    assert cards["b-1"]["node"]["state"] == "up" and cards["b-1"]["profile"] == "marlin2"

    answer = nodes.post(nodes.a, "/api/farm/printers/b-1/action", {"action": "targets", "targets": {"tool0": 55}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["printer"]["node"]["name"] == "b"

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await log_in(page, Served(None, nodes.a.url, nodes.key, nodes.a.port))  # type: ignore[arg-type]
        # (the target shows in b's /api/printer with its printer's next temperature report: by now, mostly)
        await asyncio.to_thread(wait_until, lambda: nodes.target_on_b("b-1") == 55, 10,
                                "b's printer to take the target sent through a's API")
        assert nodes.target_on_b("b-2") == 0, "only the printer named"
        await expect(page.locator('.card[data-node="b"]')).to_have_count(2)
        await expect(page.locator('.card[data-printer="b-1"] .badge.state')).to_have_text("Operational")
        await expect(page.locator('.card[data-printer="b-1"] .badge.node')).to_have_text("b")
        await expect(page.locator('.card[data-printer="a-1"] .badge.node')).to_have_text("a")
        await expect(page.locator("#nodes")).to_contain_text("a (this node, 1 printer) · b: up (2 printers)")

        await page.check('.card[data-printer="b-2"] input.select')
        await page.check('.card[data-printer="a-1"] input.select')
        await page.select_option("#bulk-preset", "PLA")
        await page.click("#bulk-preheat")
        await asyncio.to_thread(wait_until, lambda: nodes.target_on_b("b-2") == 210, 10,
                                "b's printer to preheat from a's page")
        await expect(page.locator('.card[data-printer="b-2"] .tool')).to_contain_text("/ 210 °C", timeout=10000)
        await expect(page.locator('.card[data-printer="a-1"] .tool')).to_contain_text("/ 210 °C", timeout=10000)
        await screenshot(page, "one-view-two-nodes")  # (axe runs once, below, on both kinds of card)

        await page.click('.card[data-printer="b-1"] .name a')  # b's printer's own page, on a
        await expect(page.locator("#printer-name")).to_have_text("b-1")
        await expect(page.locator(".detail-head .hint")).to_contain_text("on node b")
        await page.fill("#terminal-input", "M117 through a")
        await page.press("#terminal-input", "Enter")
        await expect(page.locator(".terminal-lines")).to_contain_text(re.compile(r"Send: N\d+ M117 through a\*"),
                                                                      timeout=5000)
        await screenshot(page, "one-view-remote-printer", full_page=True)
        await page.click("text=← Farm")

        nodes.b.kill()
        await expect(page.locator('.card[data-printer="b-1"] .badge.state')).to_have_text("Node went away",
                                                                                        timeout=10000)
        for printer in ("b-1", "b-2"):
            card = page.locator(f'.card[data-printer="{printer}"]')
            await expect(card).to_have_class(re.compile(r"\baway\b"))
            await expect(card.locator(".reason")).to_have_text("Node b stopped beating")
            await expect(card.locator("button.manage")).to_be_disabled()
        await expect(page.locator('#attention .attention-item[data-node="b"]')).to_contain_text(
            "its 2 printers are out of reach")
        await expect(page.locator('.card[data-printer="a-1"] .badge.state')).to_have_text("Operational")
        await screenshot(page, "one-view-node-gone")
        assert await serious_violations(page) == []

    cards = nodes.cards_on_a()
    for printer in ("b-1", "b-2"):
        assert cards[printer]["state"]["id"] == "NODE_GONE" and cards[printer]["state"]["text"] == "Node went away"
        assert cards[printer]["node"]["state"] == "gone" and "node b stopped beating" in cards[printer]["state"]["error"]
        assert cards[printer]["state"]["lastSeen"] == "Operational"
    assert cards["a-1"]["state"]["id"] == "OPERATIONAL", "a's own printer is untouched"
    refused = nodes.post(nodes.a, "/api/farm/printers/b-1/action", {"action": "cooldown"})
    assert refused.status_code == 409
    assert refused.json()["error"] == ("b-1 is on node b, which went away (it stopped beating): start that node "
                                       "again, then retry")
    bulk = nodes.post(nodes.a, "/api/farm/bulk", {"action": "cooldown", "printers": ["a-1", "b-2"]})
    assert bulk.status_code == 200
    results = {r["printer"]: r["error"] for r in bulk.json()["results"]}
    assert results["a-1"] is None and "node b, which went away" in results["b-2"]

