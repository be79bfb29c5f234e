"""``farmctl serve`` with its queue on PostgreSQL, as farm.toml's ``database`` names it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from databases import PostgresDatabase, query
from server_helpers import Client, ServerProcess, farm_toml, farmctl, finished, local_jobs, wait_until

pytestmark = pytest.mark.timeout(60)


def test_a_farm_on_postgresql_prints_its_queue_and_keeps_nothing_in_the_data_folder(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    server = ServerProcess(tmp_path, f'database = "{url}"\n' + farm_toml("p1"))
    try:
        server.start()
        # The key commands reach the same database through the farm.toml the server runs with.
        key = farmctl("keys", "add", "ci", "--role", "admin", "--config", str(server.config_path),
                      "--data", str(server.data)).strip().splitlines()[-1]
        cp = Client(server.cp(), key)
        cp.no_hooks()
        (server.uploads / "part.gcode").write_text("M117 PART\nG1 X5\n")
        job = cp.post("set/add", data={"path": "part.gcode", "sd": False, "count": 3, "jobName": "J",
                                       "jobDraft": False}).json()["job_id"]
        assert cp.post("set_active", data={"active": True}).status_code == 200
        wait_until(lambda: len(finished(cp.history())) == 3, 20, "three copies")
        assert [j["remaining"] for j in local_jobs(cp.state())] == [0]
    finally:
        server.kill()
    rows = asyncio.run(query(url, "SELECT set_path, result, printer FROM runs WHERE job_id = ? ORDER BY id", job))
    assert rows == [("part.gcode", "success", "p1")] * 3
    assert not list(server.data.glob("farmctl.db*")), "no SQLite file beside a PostgreSQL farm"
