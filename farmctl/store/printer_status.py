"""Whether each printer's queue is being managed, kept across restarts (see ``tx.Tx``).

The queue driver writes a row when it starts or stops managing a printer, so that after a crash
a printer comes back inactive with the reason it was stopped instead of resuming on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from farmctl.store.sql import SqlBase


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    printer: str
    active: bool
    reason: str
    updated: float


def _status(row: aiosqlite.Row) -> PrinterStatus:
    return PrinterStatus(row["printer"], bool(row["active"]), row["reason"], row["updated"])


class PrinterStatusRows(SqlBase):
    async def printer_status(self, printer: str) -> PrinterStatus | None:
        row = await self._one("SELECT * FROM printer_status WHERE printer = ?", (printer,))
        return None if row is None else _status(row)

    async def printer_statuses(self) -> list[PrinterStatus]:
        return [_status(r) for r in await self._all("SELECT * FROM printer_status ORDER BY printer")]

    async def set_printer_status(self, printer: str, active: bool, reason: str, updated: float) -> None:
        await self._write(
            """INSERT INTO printer_status (printer, active, reason, updated) VALUES (?, ?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET
                   active = excluded.active, reason = excluded.reason, updated = excluded.updated""",
            (printer, int(active), reason, updated),
        )

    async def delete_printer_status(self, printer: str) -> None:
        await self._write("DELETE FROM printer_status WHERE printer = ?", (printer,))
