"""Shared uploads: a set uploaded on node A prints on node B's printer once B has fetched the file
and checked its SHA-256; a source that sends other bytes, or cannot be reached, leaves the copy
owed with a printer status that says why, and nothing half-written in B's uploads.

Two nodes in one process on one PostgreSQL (see node_harness), simulated printers over ptys."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import aiohttp
import pytest
from databases import PostgresDatabase, query
from node_harness import Node, nodes, until

from farmctl.errors import FarmctlError
from farmctl.farm.attention import AttentionKind, needs_attention
from farmctl.farm.driver_status import DriverState

pytestmark = pytest.mark.timeout(60)
PART = b"G28\nG90\nM83\nM117 PART-FROM-A\nG1 X10 Y10 F3000\nG1 X20 Y10 E1 F1200\nM104 S0\n"
NO_HOOKS = '{"scripts": {}, "preprocessors": {}, "events": {}}'
CP = "/plugin/continuousprint"


async def upload(http: aiohttp.ClientSession, node: Node, name: str, data: bytes) -> dict:
    """Upload through OctoPrint's /api/files/local, as a slicer does; ``name`` may be in a folder."""
    folder, _, filename = name.rpartition("/")
    form = aiohttp.FormData()
    form.add_field("path", folder)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    async with http.post(f"{node.url}/api/files/local", data=form, headers={"X-Api-Key": node.key}) as response:
        assert response.status == 201, await response.text()
        return await response.json()


async def queue_copies(http: aiohttp.ClientSession, node: Node, path: str, count: int) -> int:
    headers = {"X-Api-Key": node.key}
    async with http.post(f"{node.url}{CP}/automation/edit", data={"json": NO_HOOKS}, headers=headers) as response:
        assert response.status == 200, await response.text()
    added = {"path": path, "sd": "false", "count": str(count), "jobName": "J", "jobDraft": "false"}
    async with http.post(f"{node.url}{CP}/set/add", data=added, headers=headers) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["job_id"]


def printed_marks(node: Node) -> list[str]:
    sim = next(iter(node.farm.printers.values())).sim
    return [e.command for e in sim.executed if e.command.startswith("M117 ")]


def visible_files(folder: Path) -> list[str]:
    """Everything in an uploads folder but farmctl's metadata cache: temp files would show here."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".farmctl-meta"]
        found += [os.path.relpath(os.path.join(root, f), folder) for f in files]
    return sorted(found)


async def start_b(b: Node) -> None:
    driver = b.farm.printers["b-p1"].driver
    driver.start_retry_delay = 0.05  # three attempts in a fraction of a second
    await driver.set_active(True)


async def test_a_set_uploaded_on_a_prints_on_b_after_b_fetches_and_verifies_it(
        tmp_path: Path, postgres_database: PostgresDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b), aiohttp.ClientSession() as http:
        await upload(http, a, "part.gcode", PART)
        assert await query(url, "SELECT path, sha256, size, node FROM upload_hashes") == [
            ("part.gcode", hashlib.sha256(PART).hexdigest(), len(PART), "a")]
        job = await queue_copies(http, a, "part.gcode", 2)
        async with http.get(f"{b.url}{CP}/state/get", headers={"X-Api-Key": b.key}) as response:
            state = await response.json()
        sets = next(q for q in state["queues"] if q["name"] == "local")["jobs"][0]["sets"]
        assert not sets[0]["missing_file"], "B can fetch it, so the set is not shown missing there"
        assert not (b.farm.uploads_dir / "part.gcode").exists()

        await start_b(b)  # only B's printer takes work
        async def two_successes() -> bool:
            runs = await query(url, "SELECT node, printer, result FROM runs WHERE job_id = ? ORDER BY id", job)
            return runs == [("b", "b-p1", "success")] * 2
        await until(two_successes, 20, "two copies printed on b-p1")
        assert len(printed_marks(b)) == 2, "B's simulator ran the file twice"
        states = [r.getMessage() for r in caplog.records if r.getMessage().startswith("queue: ")]
        assert states.index("queue: fetching file") < states.index("queue: starting"), "fetched, then started"
        assert states.count("queue: fetching file") == 1, "the second copy prints the file B now holds"
        assert printed_marks(a) == [], "A's printer printed nothing"
        assert (b.farm.uploads_dir / "part.gcode").read_bytes() == PART, "B keeps the verified copy"
        assert visible_files(b.farm.uploads_dir) == ["part.gcode"], "no temp file left"
        assert await query(url, "SELECT path, node FROM upload_hashes ORDER BY node") == [
            ("part.gcode", "a"), ("part.gcode", "b")], "B holds a verified copy now, for the next node"
        assert await query(url, "SELECT remaining FROM jobs WHERE id = ?", job) == [(0,)]


@pytest.mark.parametrize("fault", ["corrupted", "unreachable"])
async def test_a_corrupted_or_unreachable_source_leaves_the_copy_owed_with_a_clear_status(
        tmp_path: Path, postgres_database: PostgresDatabase, fault: str) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b), aiohttp.ClientSession() as http:
        await upload(http, a, "part.gcode", PART)
        job = await queue_copies(http, a, "part.gcode", 1)
        if fault == "corrupted":  # the bytes A sends are no longer the ones it recorded
            (a.farm.uploads_dir / "part.gcode").write_bytes(PART.replace(b"X20", b"X99"))
            words = "from node a: part.gcode does not match its recorded SHA-256"
        else:
            await a.go_offline()
            words = f"node at {a.url} did not send /downloads/files/local/part.gcode"
        await start_b(b)
        driver = b.farm.printers["b-p1"].driver
        await until(lambda: driver.state is DriverState.FAILED_TO_START, 15, "B to give up starting")
        status = driver.status
        assert words in status.reason and status.reason.endswith("the copy is still owed"), status.reason
        async with http.get(f"{b.url}{CP}/state/get", headers={"X-Api-Key": b.key}) as response:
            assert (await response.json())["status"] == "Failed to start; too many attempts"  # the plugin's words
        attention = needs_attention(b.farm.printers["b-p1"], queue_has_work=True)
        assert attention is not None and attention.kind is AttentionKind.QUEUE_STOPPED
        assert words in attention.text, "the farm view's attention strip says why, with a Retry"
        assert printed_marks(b) == [], "nothing of it reached B's printer"
        assert await query(url, "SELECT remaining FROM jobs WHERE id = ?", job) == [(1,)], "the copy is owed"
        assert await query(url, "SELECT COUNT(*) FROM runs WHERE result IS NULL OR result = 'success'") == [(0,)]
        assert visible_files(b.farm.uploads_dir) == [], "no half-written or unverified file in B's uploads"


async def test_with_a_shared_folder_b_prints_while_a_is_away_and_nothing_leaves_the_folder(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    share = tmp_path / "share"
    async with nodes(tmp_path, url, ("a", "b"), shared_uploads=share) as (a, b), aiohttp.ClientSession() as http:
        await upload(http, a, "parts/part.gcode", PART)
        assert (share / "parts/part.gcode").read_bytes() == PART, "A put a copy in the shared folder"
        secret = tmp_path / "outside.gcode"  # a file beside the share, that a symlink in it points to
        secret.write_bytes(PART)
        await upload(http, a, "link.gcode", PART)
        (share / "link.gcode").unlink()
        (share / "link.gcode").symlink_to(secret)
        await a.go_offline()

        job = await queue_copies(http, b, "parts/part.gcode", 1)
        await start_b(b)
        async def printed() -> bool:
            return await query(url, "SELECT remaining FROM jobs WHERE id = ?", job) == [(0,)]
        await until(printed, 20, "the copy printed on b-p1")
        assert printed_marks(b) == ["M117 PART-FROM-A"], "B's simulator ran A's file"
        assert (b.farm.uploads_dir / "parts/part.gcode").read_bytes() == PART

        await queue_copies(http, b, "link.gcode", 1)
        driver = b.farm.printers["b-p1"].driver
        await until(lambda: driver.state is DriverState.FAILED_TO_START, 15, "B to refuse the escaping file")
        assert "link.gcode points outside" in driver.status.reason, driver.status.reason
        assert not (b.farm.uploads_dir / "link.gcode").exists()


async def test_moves_copies_and_deletes_keep_the_records_of_what_each_node_holds(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b")) as (a, b), aiohttp.ClientSession() as http:
        async def records() -> list[tuple]:
            return await query(url, "SELECT path, node FROM upload_hashes ORDER BY path, node")

        async def post(node: Node, path: str, body: dict) -> None:
            async with http.post(f"{node.url}{path}", json=body, headers={"X-Api-Key": node.key}) as response:
                assert response.status in (200, 201), await response.text()

        await upload(http, a, "one.gcode", PART)
        await upload(http, b, "two.gcode", PART + b"M117 TWO\n")
        await post(a, "/api/farm/files/move", {"path": "one.gcode", "folder": "kept"})
        await post(a, "/api/files/local/kept/one.gcode", {"command": "copy", "destination": "spare.gcode"})
        assert await records() == [("kept/one.gcode", "a"), ("spare.gcode", "a"), ("two.gcode", "b")]
        await post(a, "/api/farm/files/delete", {"path": "kept"})
        assert await records() == [("spare.gcode", "a"), ("two.gcode", "b")], "the folder's files are forgotten"
        await b.farm.shared_uploads.ensure("spare.gcode")  # what b's driver does before printing it
        assert (b.farm.uploads_dir / "spare.gcode").read_bytes() == PART
        await post(b, "/api/farm/files/delete", {"path": "spare.gcode"})
        assert await records() == [("spare.gcode", "a"), ("two.gcode", "b")], "b's copy went; a still holds it"


async def test_a_copy_a_node_verified_serves_the_next_node_while_the_uploader_is_away(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a", "b", "c")) as (a, b, c), aiohttp.ClientSession() as http:
        await upload(http, a, "part.gcode", PART)
        await b.farm.shared_uploads.ensure("part.gcode")  # B fetched it for a print of its own
        await a.go_offline()
        (b.farm.uploads_dir / "part.gcode").write_bytes(PART.replace(b"X20", b"X99"))  # then damaged at B
        with pytest.raises(FarmctlError) as refused:
            await c.farm.shared_uploads.ensure("part.gcode")  # B's copy does not match: C refuses it
        assert f"from node a: node at {a.url} did not send" in refused.value.message
        assert "from node b: part.gcode does not match its recorded SHA-256" in refused.value.message
        assert visible_files(c.farm.uploads_dir) == []
        (b.farm.uploads_dir / "part.gcode").write_bytes(PART)

        job = await queue_copies(http, c, "part.gcode", 1)
        driver = c.farm.printers["c-p1"].driver
        driver.start_retry_delay = 0.05
        await driver.set_active(True)

        async def printed() -> bool:
            return await query(url, "SELECT node, result FROM runs WHERE job_id = ?", job) == [("c", "success")]
        await until(printed, 20, "the copy printed on c-p1")
        assert printed_marks(c) == ["M117 PART-FROM-A"]
        assert (c.farm.uploads_dir / "part.gcode").read_bytes() == PART


async def test_the_only_copy_changed_by_hand_is_taken_as_the_new_version(
        tmp_path: Path, postgres_database: PostgresDatabase) -> None:
    url = postgres_database.fresh_install()
    async with nodes(tmp_path, url, ("a",)) as (a,), aiohttp.ClientSession() as http:
        await upload(http, a, "part.gcode", PART)
        edited = PART + b"M117 EDITED\n"
        (a.farm.uploads_dir / "part.gcode").write_bytes(edited)  # an operator on the one Pi edits it
        await a.farm.shared_uploads.ensure("part.gcode")
        assert await query(url, "SELECT node, sha256 FROM upload_hashes") == [("a", hashlib.sha256(edited).hexdigest())]
        assert (a.farm.uploads_dir / "part.gcode").read_bytes() == edited
