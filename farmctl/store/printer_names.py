"""The names OctoPrint clients gave each printer (POST /api/settings appearance.name), kept across
restarts (see ``tx.Tx``). A printer without a row shows its farm.toml name."""

from __future__ import annotations

from farmctl.store.sql import SqlBase


class PrinterNameRows(SqlBase):
    async def printer_names(self) -> dict[str, str]:
        rows = await self._all("SELECT printer, display_name FROM printer_names ORDER BY printer")
        return {r["printer"]: r["display_name"] for r in rows}

    async def set_printer_name(self, printer: str, display_name: str, updated: float) -> None:
        await self._write(
            """INSERT INTO printer_names (printer, display_name, updated) VALUES (?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET display_name = excluded.display_name, updated = excluded.updated""",
            (printer, display_name, updated),
        )
