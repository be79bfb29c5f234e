"""Rows of run history, automation and external data (see ``tx.Tx``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from farmctl.store.records import EventHook, RunRecord, RunResult
from farmctl.store.sql import SqlBase


def _run_record(row: aiosqlite.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        queue_name=row["queue_name"],
        job_name=row["job_name"],
        set_path=row["set_path"],
        printer=row["printer"],
        start=row["start"],
        end=row["end"],
        result=None if row["result"] is None else RunResult(row["result"]),
        job_id=row["job_id"],
        set_id=row["set_id"],
        movie_path=row["movie_path"],
        thumb_path=row["thumb_path"],
    )


class RunsAndAutomation(SqlBase):
    # Runs

    async def insert_run(
        self, *, queue_name: str, job_name: str, set_path: str, printer: str, start: float,
        job_id: int, set_id: int,
    ) -> RunRecord:
        """Open a run (result NULL); while open it reserves one copy of its set."""
        cur = await self._write(
            """INSERT INTO runs (queue_name, job_name, set_path, printer, start, job_id, set_id)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (queue_name, job_name, set_path, printer, start, job_id, set_id),
        )
        run = await self.run(int(cur.lastrowid or 0))
        assert run is not None
        return run

    async def run(self, run_id: int) -> RunRecord | None:
        row = await self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return None if row is None else _run_record(row)

    async def open_runs(self, printer: str | None = None) -> list[RunRecord]:
        if printer is None:
            rows = await self._all("SELECT * FROM runs WHERE result IS NULL ORDER BY id")
        else:
            rows = await self._all(
                "SELECT * FROM runs WHERE result IS NULL AND printer = ? ORDER BY id", (printer,)
            )
        return [_run_record(r) for r in rows]

    async def open_runs_per_set(self) -> dict[int, int]:
        rows = await self._all(
            "SELECT set_id, COUNT(*) AS n FROM runs WHERE result IS NULL GROUP BY set_id"
        )
        return {r["set_id"]: r["n"] for r in rows}

    async def close_run(self, run_id: int, result: RunResult, end: float) -> None:
        await self._write(
            'UPDATE runs SET result = ?, "end" = ? WHERE id = ? AND result IS NULL',
            (result.value, end, run_id),
        )

    async def settle_aborted_run(self, run_id: int, result: RunResult) -> None:
        await self._write(
            "UPDATE runs SET result = ? WHERE id = ? AND result = 'aborted'", (result.value, run_id)
        )

    async def history(self, limit: int) -> list[RunRecord]:
        rows = await self._all("SELECT * FROM runs ORDER BY start DESC, id DESC LIMIT ?", (limit,))
        return [_run_record(r) for r in rows]

    async def delete_closed_runs(self) -> None:
        await self._write("DELETE FROM runs WHERE result IS NOT NULL")

    async def release_all_jobs(self) -> None:
        await self._write("UPDATE jobs SET acquired_by = NULL WHERE acquired_by IS NOT NULL")

    # Automation

    async def scripts(self) -> dict[str, str]:
        return {r["name"]: r["body"] for r in await self._all("SELECT * FROM scripts ORDER BY name")}

    async def preprocessors(self) -> dict[str, str]:
        rows = await self._all("SELECT * FROM preprocessors ORDER BY name")
        return {r["name"]: r["body"] for r in rows}

    async def events(self) -> dict[str, list[EventHook]]:
        hooks: dict[str, list[EventHook]] = {}
        for r in await self._all("SELECT * FROM events ORDER BY event, rank, id"):
            hooks.setdefault(r["event"], []).append(EventHook(r["script"], r["preprocessor"]))
        return hooks

    async def replace_automation(
        self,
        scripts: Mapping[str, str],
        preprocessors: Mapping[str, str],
        events: Mapping[str, Sequence[EventHook]],
    ) -> None:
        for table in ("events", "scripts", "preprocessors"):
            await self._write(f"DELETE FROM {table}")
        for name, body in scripts.items():
            await self._write("INSERT INTO scripts (name, body) VALUES (?, ?)", (name, body))
        for name, body in preprocessors.items():
            await self._write("INSERT INTO preprocessors (name, body) VALUES (?, ?)", (name, body))
        for event, hooks in events.items():
            for rank, hook in enumerate(hooks):
                await self._write(
                    "INSERT INTO events (event, rank, script, preprocessor) VALUES (?, ?, ?, ?)",
                    (event, rank, hook.script, hook.preprocessor),
                )

    async def external(self) -> dict[str, Any]:
        row = await self._one("SELECT data FROM external WHERE id = 1")
        return {} if row is None else dict(json.loads(row["data"]))

    async def set_external(self, data: Mapping[str, Any]) -> None:
        await self._write(
            "INSERT INTO external (id, data) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            (json.dumps(dict(data)),),
        )
