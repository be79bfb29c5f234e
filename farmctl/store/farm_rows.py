"""What the dashboard keeps per printer and for the farm (see ``tx.Tx``): each printer's groups
set in the page, its maintenance note, and the temperature presets."""

from __future__ import annotations

import json
from dataclasses import dataclass

from farmctl.store.sql import Rows


@dataclass(frozen=True, slots=True)
class PresetRecord:
    """A named pair of targets (PLA: hotend 210 °C, bed 60 °C); ``rank`` orders them in the page."""

    name: str
    tool: float
    bed: float
    rank: int

    def to_api(self) -> dict[str, str | float]:
        return {"name": self.name, "tool": self.tool, "bed": self.bed}


class FarmRows(Rows):
    async def tags(self) -> dict[str, tuple[str, ...]]:
        """printer -> its groups as set in the page (a printer without a row keeps farm.toml's)."""
        rows = await self._sql.all("SELECT printer, tags FROM printer_tags ORDER BY printer")
        return {r["printer"]: tuple(json.loads(r["tags"])) for r in rows}

    async def set_tags(self, printer: str, tags: tuple[str, ...], updated: float) -> None:
        await self._sql.write(
            """INSERT INTO printer_tags (printer, tags, updated) VALUES (?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET tags = excluded.tags, updated = excluded.updated""",
            (printer, json.dumps(list(tags)), updated),
        )

    async def maintenance_notes(self) -> dict[str, str]:
        rows = await self._sql.all("SELECT printer, note FROM printer_maintenance ORDER BY printer")
        return {r["printer"]: r["note"] for r in rows}

    async def set_maintenance(self, printer: str, note: str | None, updated: float) -> None:
        """``note`` None ends the maintenance."""
        if note is None:
            await self._sql.write("DELETE FROM printer_maintenance WHERE printer = ?", (printer,))
            return
        await self._sql.write(
            """INSERT INTO printer_maintenance (printer, note, since) VALUES (?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET note = excluded.note""",
            (printer, note, updated),
        )

    async def presets(self) -> list[PresetRecord]:
        rows = await self._sql.all("SELECT name, tool, bed, rank FROM temperature_presets ORDER BY rank, name")
        return [PresetRecord(r["name"], r["tool"], r["bed"], r["rank"]) for r in rows]

    async def replace_presets(self, presets: list[PresetRecord]) -> None:
        await self._sql.write("DELETE FROM temperature_presets")
        for preset in presets:
            await self._sql.write("INSERT INTO temperature_presets (name, tool, bed, rank) VALUES (?, ?, ?, ?)",
                              (preset.name, preset.tool, preset.bed, preset.rank))
