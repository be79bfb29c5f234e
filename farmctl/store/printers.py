"""What farmctl keeps per printer across restarts (see ``tx.Tx``): whether its queue is managed
and why it stopped, the name OctoPrint clients gave it, its temperature offsets, the materials
loaded in its tools and the printer profile name set through the API.

The queue driver writes the status when it starts or stops managing a printer, so that after a
crash a printer comes back inactive with the reason it was stopped instead of resuming on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.store.sql import Row, Rows


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    printer: str
    active: bool
    reason: str
    updated: float


def _status(row: Row) -> PrinterStatus:
    return PrinterStatus(row["printer"], bool(row["active"]), row["reason"], row["updated"])


class PrinterRows(Rows):
    # Queue status

    async def status(self, printer: str) -> PrinterStatus | None:
        row = await self._sql.one("SELECT * FROM printer_status WHERE printer = ?", (printer,))
        return None if row is None else _status(row)

    async def statuses(self) -> list[PrinterStatus]:
        return [_status(r) for r in await self._sql.all("SELECT * FROM printer_status ORDER BY printer")]

    async def set_status(self, printer: str, active: bool, reason: str, updated: float) -> None:
        await self._sql.write(
            """INSERT INTO printer_status (printer, active, reason, updated) VALUES (?, ?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET
                   active = excluded.active, reason = excluded.reason, updated = excluded.updated""",
            (printer, int(active), reason, updated),
        )

    async def delete_status(self, printer: str) -> None:
        await self._sql.write("DELETE FROM printer_status WHERE printer = ?", (printer,))

    # Display names (POST /api/settings appearance.name); a printer without a row shows its farm.toml name

    async def names(self) -> dict[str, str]:
        rows = await self._sql.all("SELECT printer, display_name FROM printer_names ORDER BY printer")
        return {r["printer"]: r["display_name"] for r in rows}

    async def set_name(self, printer: str, display_name: str, updated: float) -> None:
        await self._sql.write(
            """INSERT INTO printer_names (printer, display_name, updated) VALUES (?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET display_name = excluded.display_name, updated = excluded.updated""",
            (printer, display_name, updated),
        )

    # Temperature offsets (OctoPrint's tool and bed "offset" commands); a heater without a row has none

    async def temperature_offsets(self) -> dict[str, dict[str, float]]:
        """printer -> heater ("tool0", "bed") -> degrees."""
        rows = await self._sql.all("SELECT printer, heater, degrees FROM temperature_offsets ORDER BY printer, heater")
        offsets: dict[str, dict[str, float]] = {}
        for r in rows:
            offsets.setdefault(r["printer"], {})[r["heater"]] = r["degrees"]
        return offsets

    async def set_temperature_offset(self, printer: str, heater: str, degrees: float, updated: float) -> None:
        await self._sql.write(
            """INSERT INTO temperature_offsets (printer, heater, degrees, updated) VALUES (?, ?, ?, ?)
               ON CONFLICT (printer, heater) DO UPDATE SET degrees = excluded.degrees, updated = excluded.updated""",
            (printer, heater, degrees, updated),
        )

    async def delete_temperature_offset(self, printer: str, heater: str) -> None:
        await self._sql.write("DELETE FROM temperature_offsets WHERE printer = ? AND heater = ?", (printer, heater))

    # Loaded materials, per tool (Continuous Print's keys, e.g. "PLA_red_#ff0000"); a tool without a row has none

    async def materials(self) -> dict[str, dict[int, str]]:
        """printer -> tool -> material key."""
        rows = await self._sql.all("SELECT printer, tool, material FROM printer_materials ORDER BY printer, tool")
        loaded: dict[str, dict[int, str]] = {}
        for r in rows:
            loaded.setdefault(r["printer"], {})[r["tool"]] = r["material"]
        return loaded

    async def set_materials(self, printer: str, materials: dict[int, str | None], updated: float) -> None:
        """Replace some tools' materials; None unloads a tool."""
        for tool, material in materials.items():
            if material is None:
                await self._sql.write("DELETE FROM printer_materials WHERE printer = ? AND tool = ?", (printer, tool))
            else:
                await self._sql.write(
                    """INSERT INTO printer_materials (printer, tool, material, updated) VALUES (?, ?, ?, ?)
                       ON CONFLICT (printer, tool) DO UPDATE SET material = excluded.material, updated = excluded.updated""",
                    (printer, tool, material, updated),
                )

    # Printer profile names set through the API (they win over farm.toml's printer_profile)

    async def profiles(self) -> dict[str, str]:
        rows = await self._sql.all("SELECT printer, profile FROM printer_profiles ORDER BY printer")
        return {r["printer"]: r["profile"] for r in rows}

    async def set_profile(self, printer: str, profile: str, updated: float) -> None:
        await self._sql.write(
            """INSERT INTO printer_profiles (printer, profile, updated) VALUES (?, ?, ?)
               ON CONFLICT (printer) DO UPDATE SET profile = excluded.profile, updated = excluded.updated""",
            (printer, profile, updated),
        )
