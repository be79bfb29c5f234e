"""Each printer's temperature offsets (OctoPrint's tool and bed ``offset`` commands), kept across
restarts (see ``tx.Tx``). A heater without a row has no offset."""

from __future__ import annotations

from farmctl.store.sql import SqlBase


class TemperatureOffsetRows(SqlBase):
    async def temperature_offsets(self) -> dict[str, dict[str, float]]:
        """printer -> heater ("tool0", "bed") -> degrees."""
        rows = await self._all("SELECT printer, heater, degrees FROM temperature_offsets ORDER BY printer, heater")
        offsets: dict[str, dict[str, float]] = {}
        for r in rows:
            offsets.setdefault(r["printer"], {})[r["heater"]] = r["degrees"]
        return offsets

    async def set_temperature_offset(self, printer: str, heater: str, degrees: float, updated: float) -> None:
        await self._write(
            """INSERT INTO temperature_offsets (printer, heater, degrees, updated) VALUES (?, ?, ?, ?)
               ON CONFLICT (printer, heater) DO UPDATE SET degrees = excluded.degrees, updated = excluded.updated""",
            (printer, heater, degrees, updated),
        )

    async def delete_temperature_offset(self, printer: str, heater: str) -> None:
        await self._write("DELETE FROM temperature_offsets WHERE printer = ? AND heater = ?", (printer, heater))
