"""Rows of run history (see ``tx.Tx``). An open run (result NULL) reserves one copy of its set."""

from __future__ import annotations

from farmctl.store.copies import CopyRows
from farmctl.store.records import RunRecord, RunResult
from farmctl.store.sql import Row, Rows, Sql


def _run_record(row: Row) -> RunRecord:
    return RunRecord(
        id=row["id"], queue_name=row["queue_name"], job_name=row["job_name"], set_path=row["set_path"],
        printer=row["printer"], start=row["start"], end=row["end"],
        result=None if row["result"] is None else RunResult(row["result"]),
        job_id=row["job_id"], set_id=row["set_id"], movie_path=row["movie_path"], thumb_path=row["thumb_path"],
        node=row["node"],
    )


class RunRows(Rows):
    """Closing or dropping an open run frees its copy: ``copies`` hears of it and settles at commit.
    Opening one is a claim's, which takes its copy itself (``CopyRows.take``)."""

    def __init__(self, sql: Sql, copies: CopyRows) -> None:
        super().__init__(sql)
        self._copies = copies

    async def insert(self, *, queue_name: str, job_name: str, set_path: str, printer: str, start: float,
                     job_id: int, set_id: int, node: str | None = None) -> RunRecord:
        """Open a run (result NULL); while open it reserves one copy of its set."""
        run_id = await self._sql.insert(
            """INSERT INTO runs (queue_name, job_name, set_path, printer, start, job_id, set_id, node)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (queue_name, job_name, set_path, printer, start, job_id, set_id, node),
        )
        run = await self.get(run_id)
        assert run is not None
        return run

    async def get(self, run_id: int) -> RunRecord | None:
        row = await self._sql.one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return None if row is None else _run_record(row)

    async def open(self, printer: str | None = None) -> list[RunRecord]:
        if printer is None:
            rows = await self._sql.all("SELECT * FROM runs WHERE result IS NULL ORDER BY id")
        else:
            rows = await self._sql.all("SELECT * FROM runs WHERE result IS NULL AND printer = ? ORDER BY id",
                                       (printer,))
        return [_run_record(r) for r in rows]

    async def open_of_nodes_other_than_live(self, live: list[str]) -> list[RunRecord]:
        """Open runs of no live node: of a node that stopped beating, or recorded before nodes were."""
        if not live:
            return await self.open()
        marks = ", ".join("?" * len(live))
        rows = await self._sql.all(f"""SELECT * FROM runs WHERE result IS NULL
                                       AND (node IS NULL OR node NOT IN ({marks})) ORDER BY id""", live)
        return [_run_record(r) for r in rows]

    async def open_per_set(self) -> dict[int, int]:
        rows = await self._sql.all("SELECT set_id, COUNT(*) AS n FROM runs WHERE result IS NULL GROUP BY set_id")
        return {r["set_id"]: r["n"] for r in rows}

    async def close(self, run_id: int, result: RunResult, end: float) -> None:
        await self._freeing(run_id)
        await self._sql.write('UPDATE runs SET result = ?, "end" = ? WHERE id = ? AND result IS NULL',
                              (result.value, end, run_id))

    async def delete_open(self, run_id: int) -> None:
        await self._freeing(run_id)
        await self._sql.write("DELETE FROM runs WHERE id = ? AND result IS NULL", (run_id,))

    async def _freeing(self, run_id: int) -> None:
        row = await self._sql.one("SELECT set_id FROM runs WHERE id = ? AND result IS NULL", (run_id,))
        if row is not None:
            self._copies.touched([row["set_id"]])

    async def settle_aborted(self, run_id: int, result: RunResult) -> None:
        await self._sql.write("UPDATE runs SET result = ? WHERE id = ? AND result = 'aborted'", (result.value, run_id))

    async def history(self, limit: int) -> list[RunRecord]:
        rows = await self._sql.all("SELECT * FROM runs ORDER BY start DESC, id DESC LIMIT ?", (limit,))
        return [_run_record(r) for r in rows]

    async def delete_closed(self) -> None:
        await self._sql.write("DELETE FROM runs WHERE result IS NOT NULL")
