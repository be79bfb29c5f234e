"""Rows of run history (see ``tx.Tx``). An open run (result NULL) reserves one copy of its set."""

from __future__ import annotations

from farmctl.store.records import RunRecord, RunResult
from farmctl.store.sql import Row, Rows


def _run_record(row: Row) -> RunRecord:
    return RunRecord(
        id=row["id"], queue_name=row["queue_name"], job_name=row["job_name"], set_path=row["set_path"],
        printer=row["printer"], start=row["start"], end=row["end"],
        result=None if row["result"] is None else RunResult(row["result"]),
        job_id=row["job_id"], set_id=row["set_id"], movie_path=row["movie_path"], thumb_path=row["thumb_path"],
    )


class RunRows(Rows):
    async def insert(self, *, queue_name: str, job_name: str, set_path: str, printer: str, start: float,
                     job_id: int, set_id: int) -> RunRecord:
        """Open a run (result NULL); while open it reserves one copy of its set."""
        run_id = await self._sql.insert(
            """INSERT INTO runs (queue_name, job_name, set_path, printer, start, job_id, set_id)
               VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (queue_name, job_name, set_path, printer, start, job_id, set_id),
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

    async def open_per_set(self) -> dict[int, int]:
        rows = await self._sql.all("SELECT set_id, COUNT(*) AS n FROM runs WHERE result IS NULL GROUP BY set_id")
        return {r["set_id"]: r["n"] for r in rows}

    async def close(self, run_id: int, result: RunResult, end: float) -> None:
        await self._sql.write('UPDATE runs SET result = ?, "end" = ? WHERE id = ? AND result IS NULL',
                              (result.value, end, run_id))

    async def settle_aborted(self, run_id: int, result: RunResult) -> None:
        await self._sql.write("UPDATE runs SET result = ? WHERE id = ? AND result = 'aborted'", (result.value, run_id))

    async def history(self, limit: int) -> list[RunRecord]:
        rows = await self._sql.all("SELECT * FROM runs ORDER BY start DESC, id DESC LIMIT ?", (limit,))
        return [_run_record(r) for r in rows]

    async def delete_closed(self) -> None:
        await self._sql.write("DELETE FROM runs WHERE result IS NOT NULL")
