"""One action on several printers at once (the farm view's toolbar): each printer is tried on its
own, so one that refuses (not printing, not ready) never stops the others, and the caller learns
which did what."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.farm import control, fleet

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

MAX_PRINTERS = 500


@dataclass(frozen=True, slots=True)
class BulkResult:
    printer: str
    error: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"printer": self.printer, "error": self.error}


Step = Callable[["FarmPrinter"], Awaitable[None]]


async def _sync(call: Callable[[FarmPrinter], None], entry: FarmPrinter) -> None:
    call(entry)


def _step(farm: Farm, action: str, options: dict[str, Any]) -> Step:
    """The per-printer step of an action, with its options checked once, before any printer is touched."""
    if action == "preheat":
        chosen = fleet.preset(farm, options.get("preset"))
        return lambda entry: control.set_targets(entry, {heater: chosen.bed if heater == "bed" else chosen.tool
                                                         for heater in control.heater_names(entry)})
    if action == "print":
        path = options.get("path")
        if not isinstance(path, str) or not path:
            raise FarmctlError("print needs the upload's path, e.g. {\"path\": \"bracket.gcode\"}")
        return lambda entry: control.print_upload(farm, entry, path)
    steps: dict[str, Step] = {
        "pause": lambda entry: _sync(control.pause, entry),
        "resume": lambda entry: _sync(control.resume, entry),
        "cancel": lambda entry: _sync(control.cancel, entry),
        "cooldown": control.cool_down,
        "manage": lambda entry: entry.driver.set_active(True),
        "unmanage": lambda entry: entry.driver.set_active(False),
    }
    if action not in steps:
        raise FarmctlError(f"unknown bulk action {action!r}; known: {', '.join([*steps, 'preheat', 'print'])}")
    return steps[action]


def check(farm: Farm, names: Any, action: str, options: dict[str, Any]) -> Step:
    """The action's step for these printers, or a refusal before any printer (here or on another node) is touched."""
    if not isinstance(names, (list, tuple)) or not names or len(names) > MAX_PRINTERS:
        raise FarmctlError("printers must be a list of printer names (select at least one)")
    return _step(farm, action, options)


async def run(farm: Farm, names: Sequence[Any], action: str, options: dict[str, Any]) -> list[BulkResult]:
    """Do ``action`` on every printer named, all at once; each one's refusal is its own result."""
    step = check(farm, names, action, options)
    entries = [farm.printer(name) if isinstance(name, str) else farm.printer(str(name)) for name in dict.fromkeys(names)]

    async def one(entry: FarmPrinter) -> BulkResult:
        try:
            await step(entry)
        except FarmctlError as exc:
            return BulkResult(entry.name, exc.message)
        return BulkResult(entry.name)

    return list(await asyncio.gather(*(one(entry) for entry in entries)))
