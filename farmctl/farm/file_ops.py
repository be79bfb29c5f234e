"""What changing an upload means for the farm: a file being printed is not moved or deleted, a
printer's selection follows its file, every client hears of the change, and "print now" starts a
file on several printers at once.

The OctoPrint file routes and the dashboard's both come here, so the rules hold for every client.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.errors import FarmctlError
from farmctl.farm.farm import Farm
from farmctl.files import FileInfo
from farmctl.printer import PrinterState

BUSY = frozenset({PrinterState.PRINTING, PrinterState.PAUSING, PrinterState.PAUSED, PrinterState.CANCELLING})


def in_use(farm: Farm, relative: str) -> bool:
    """True when some printer is printing this file, or a file inside this folder."""
    inside = relative.rstrip("/") + "/"
    for entry in farm.printers.values():
        progress = entry.printer.progress
        if entry.printer.state not in BUSY or progress is None:
            continue
        rel = farm.upload_name(progress.path)
        if rel is not None and (rel == relative or rel.startswith(inside)):
            return True
    return False


def refuse_busy(farm: Farm, relative: str) -> None:
    if in_use(farm, relative):
        raise FarmctlError(f"{relative} is being printed", 409)


async def move(farm: Farm, info: FileInfo, target: str) -> FileInfo:
    """Move or rename a file or folder; selections of it (or of files inside it) follow."""
    refuse_busy(farm, info.path)
    moved = await farm.uploads.move(info.path, target)
    inside = info.path + "/"
    for entry in farm.printers.values():
        if entry.selected == info.path:
            entry.selected = moved.path
        elif entry.selected is not None and entry.selected.startswith(inside):
            entry.selected = moved.path + "/" + entry.selected[len(inside):]
    await farm.file_removed(info.path)
    await farm.file_stored(moved)
    return moved


async def delete(farm: Farm, info: FileInfo) -> None:
    """Delete a file or a folder with everything in it; selections of them are cleared."""
    refuse_busy(farm, info.path)
    await farm.uploads.delete(info.path)
    await farm.file_removed(info.path)
    for entry in farm.printers.values():
        if entry.selected is not None and (entry.selected == info.path or entry.selected.startswith(info.path + "/")):
            entry.selected = None


@dataclass(frozen=True, slots=True)
class Started:
    printer: str
    error: str | None
    """Why it did not start (the printer busy, offline); None when printing."""


async def print_now(farm: Farm, relative: str, printers: list[str]) -> list[Started]:
    """Start ``relative`` on each printer that is ready, outside the queue (as OctoPrint's select
    and print). Each printer answers for itself: one busy printer does not stop the others."""
    if not printers:
        raise FarmctlError("name at least one printer")
    entries = [farm.printer(name) for name in dict.fromkeys(printers)]
    await farm.shared_uploads.ensure(relative)  # a file another node holds is fetched, checked by hash
    path = await farm.uploads.local_path(relative)
    results = []
    for entry in entries:
        if entry.printer.state != PrinterState.OPERATIONAL:
            results.append(Started(entry.name, f"{entry.name} is {entry.printer.state.value.lower()}, not ready"))
            continue
        try:
            await farm.start_print(entry, path)
        except FarmctlError as exc:
            results.append(Started(entry.name, exc.message))
            continue
        entry.select(relative)
        results.append(Started(entry.name, None))
    return results
