"""Three ``farmctl serve`` nodes on one PostgreSQL queue: every copy printed once, and a node
killed mid-print has that copy settled aborted once and printed by another node."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from databases import PostgresDatabase, query
from server_helpers import Client, ServerProcess, farmctl, wait_until

pytestmark = pytest.mark.timeout(90)
COPIES = 30
PART = "M117 PART\n" + "G4 P150\n" * 2
"""Three tenths of a second of dwell on a simulator running in real time: thirty copies over
three printers take seconds. The victim's copy of the file dwells ten seconds, so it is certainly
mid-print when it is killed."""
VICTIMS_PART = "M117 PART\n" + "G4 S10\n"


def test_three_nodes_print_thirty_copies_once_each_and_survive_a_kill_9(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    nodes = []
    for n in range(3):
        root = tmp_path / f"n{n}"
        root.mkdir()
        toml = (f'database = "{url}"\nnode = "n{n}"\nnode_timeout = 2\n'
                f'[[printers]]\nname = "n{n}-p1"\nport = "sim"\nprofile = "marlin2"\n')
        nodes.append(ServerProcess(root, toml, sim_speed="real"))
    try:
        with ThreadPoolExecutor(3) as pool:  # the nodes start side by side, as a farm's Pis boot
            list(pool.map(ServerProcess.start, nodes))
        advertised = asyncio.run(query(url, "SELECT name, url FROM nodes ORDER BY name"))
        assert advertised == [(f"n{n}", node.url) for n, node in enumerate(nodes)], "each says where it is reached"
        for node in nodes:
            node.uploads.mkdir(parents=True, exist_ok=True)
            # copied in by hand, so no node records it: each prints its own (the victim's dwells longer)
            (node.uploads / "part.gcode").write_text(VICTIMS_PART if node is nodes[0] else PART)
        key = farmctl("keys", "add", "ci", "--role", "admin", "--config", str(nodes[0].config_path),
                      "--data", str(nodes[0].data)).strip().splitlines()[-1]
        clients = [Client(node.cp(), key) for node in nodes]
        clients[0].no_hooks()
        job = clients[0].post("set/add", data={"path": "part.gcode", "sd": False, "count": COPIES, "jobName": "J",
                                               "jobDraft": False}).json()["job_id"]
        for client in clients:
            assert client.post("set_active", data={"active": True}).status_code == 200

        def victim_printing() -> bool:
            return bool(asyncio.run(query(url, "SELECT id FROM runs WHERE result IS NULL AND node = 'n0'")))
        wait_until(victim_printing, 30, "node n0 to print a copy")
        nodes[0].kill()

        def all_printed() -> bool:
            return asyncio.run(query(url, "SELECT COUNT(*) FROM runs WHERE result = 'success'"))[0][0] >= COPIES
        wait_until(all_printed, 60, f"{COPIES} copies")
        assert clients[1].post("set_active", data={"active": False}).status_code == 200
        assert clients[2].post("set_active", data={"active": False}).status_code == 200
    finally:
        for node in nodes:
            node.kill()
    runs = asyncio.run(query(url, "SELECT node, printer, result FROM runs WHERE job_id = ? ORDER BY id", job))
    by_result = {result: [r for r in runs if r[2] == result] for result in {r[2] for r in runs}}
    assert len(by_result["success"]) == COPIES, by_result
    assert by_result["aborted"] == [("n0", "n0-p1", "aborted")], "the killed node's copy, settled once"
    assert set(by_result) == {"success", "aborted"}, "no run left open, none failed"
    assert {node for node, _, _ in by_result["success"]} == {"n1", "n2"}, "the other two printed the rest"
    assert [r for r in runs if r[0] == "n0"] == [("n0", "n0-p1", "aborted")]
    assert asyncio.run(query(url, "SELECT remaining FROM jobs WHERE id = ?", job)) == [(0,)]
