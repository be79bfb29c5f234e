"""How an operator organises the farm: groups (tags), maintenance mode and temperature presets.

Each is stored first, in one transaction, and only then applied in memory, so a refused or failed
write changes nothing. Maintenance takes a printer out of every queue: its driver stops taking
work (a print in progress finishes) and refuses to be managed until the maintenance ends.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.farm.config import tag_list
from farmctl.store import PresetRecord

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

log = logging.getLogger(__name__)

MAX_NOTE = 500
MAX_PRESETS = 30
MAX_PRESET_NAME = 30


async def restore(farm: Farm) -> None:
    """At start: the groups set in the page, the maintenance notes and the presets."""
    async with farm.store.transaction(write=False) as tx:
        tags = await tx.farm.tags()
        notes = await tx.farm.maintenance_notes()
        farm.presets = await tx.farm.presets()
    for name, entry in farm.printers.items():
        if name in tags:
            entry.tags = tags[name]
        if name in notes:
            entry.maintenance = notes[name]
            entry.driver.blocked = _blocked(notes[name])


def _blocked(note: str) -> str:
    return f"in maintenance: {note}" if note else "in maintenance"


async def set_tags(farm: Farm, entry: FarmPrinter, raw: Any) -> None:
    try:
        tags = tag_list(raw)
    except ValueError as exc:
        raise FarmctlError(str(exc)) from None
    async with farm.store.transaction() as tx:
        await tx.farm.set_tags(entry.name, tags, time.time())
    entry.tags = tags
    farm.notify()


async def set_maintenance(farm: Farm, entry: FarmPrinter, on: bool, note: str = "") -> None:
    """Start (with a note: "nozzle swap, back Tuesday") or end a printer's maintenance."""
    note = note.strip()
    if len(note) > MAX_NOTE or not note.isprintable():
        raise FarmctlError(f"the maintenance note must be at most {MAX_NOTE} printable characters")
    async with farm.store.transaction() as tx:
        await tx.farm.set_maintenance(entry.name, note if on else None, time.time())
    if on:
        entry.maintenance = note
        entry.driver.blocked = _blocked(note)
        await entry.driver.set_active(False, _blocked(note))
        log.info("printer %s: in maintenance (%s)", entry.name, note or "no note")
    else:
        entry.maintenance = None
        entry.driver.blocked = None
        await entry.driver.set_active(False)
        log.info("printer %s: maintenance over", entry.name)
    farm.notify()


def _preset(raw: Any, rank: int) -> PresetRecord:
    if not isinstance(raw, dict):
        raise FarmctlError('each preset must be an object like {"name": "PLA", "tool": 210, "bed": 60}')
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_PRESET_NAME:
        raise FarmctlError(f"a preset needs a name of 1 to {MAX_PRESET_NAME} characters")
    values = []
    for key in ("tool", "bed"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= 400:
            raise FarmctlError(f"preset {name.strip()!r}: {key} must be a temperature from 0 to 400 °C")
        values.append(float(value))
    return PresetRecord(name.strip(), values[0], values[1], rank)


async def set_presets(farm: Farm, raw: Any) -> None:
    """Replace every preset (the page edits the list as a whole)."""
    if not isinstance(raw, list) or len(raw) > MAX_PRESETS:
        raise FarmctlError(f"presets must be a list of at most {MAX_PRESETS} presets")
    presets = [_preset(item, rank) for rank, item in enumerate(raw)]
    if len({p.name.lower() for p in presets}) != len(presets):
        raise FarmctlError("two presets have the same name")
    async with farm.store.transaction() as tx:
        await tx.farm.replace_presets(presets)
    farm.presets = presets


def preset(farm: Farm, name: Any) -> PresetRecord:
    for candidate in farm.presets:
        if candidate.name == name:
            return candidate
    raise FarmctlError(f"no temperature preset named {name!r}; known: {', '.join(p.name for p in farm.presets)}", 404)
