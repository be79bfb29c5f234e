"""Two ``farmctl serve`` processes on one PostgreSQL: a file uploaded to one (in a folder, with a
name that needs quoting) is printed by the other's simulated printer after it fetched and checked it."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from databases import PostgresDatabase, query
from server_helpers import Client, ServerProcess, farmctl, wait_until

from farmctl.logs import LOG_NAME

pytestmark = pytest.mark.timeout(60)
PART = b"G28\nM117 FROM-NODE-A\nG1 X10 Y10 F3000\nM104 S0\n"
NAME = "Teile/Halter größer.gcode"


def test_a_file_uploaded_to_one_process_is_printed_by_the_other(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    nodes = []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        nodes.append(ServerProcess(root, f'database = "{url}"\nnode = "{name}"\nnode_timeout = 5\n'
                                         f'[[printers]]\nname = "{name}-p1"\nport = "sim"\nprofile = "marlin2"\n'))
    a, b = nodes
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ServerProcess.start, nodes))
        key = farmctl("keys", "add", "ci", "--role", "admin", "--config", str(a.config_path),
                      "--data", str(a.data)).strip().splitlines()[-1]
        folder, filename = NAME.rsplit("/", 1)
        uploaded = requests.post(f"{a.url}/api/files/local", headers={"X-Api-Key": key}, timeout=10,
                                 data={"path": folder}, files={"file": (filename, PART)})
        assert uploaded.status_code == 201, uploaded.text
        on_b = Client(b.cp(), key)
        on_b.no_hooks()
        added = on_b.post("set/add", data={"path": NAME, "sd": False, "count": 1, "jobName": "J", "jobDraft": False})
        assert added.status_code == 200, added.text
        assert on_b.post("set_active", data={"active": True}).status_code == 200

        def printed() -> bool:
            return asyncio.run(query(url, "SELECT node, result FROM runs")) == [("b", "success")]
        wait_until(printed, 30, "node b to print the copy")
        assert (b.uploads / NAME).read_bytes() == PART, "b keeps the copy it fetched"
        assert asyncio.run(query(url, "SELECT path, sha256, node FROM upload_hashes ORDER BY node")) == [
            (NAME, hashlib.sha256(PART).hexdigest(), "a"), (NAME, hashlib.sha256(PART).hexdigest(), "b")], \
            "b holds a verified copy too"
        secret = asyncio.run(query(url, "SELECT secret FROM farm_secrets"))[0][0]
    finally:
        for node in nodes:
            node.stop()
    assert f"{NAME} fetched from node a and verified" in (b.data / LOG_NAME).read_text(), "b's log file says so"
    everything = "".join((n.data / LOG_NAME).read_text() + n.log() for n in nodes)
    assert secret not in everything, "the peer secret is never logged"
