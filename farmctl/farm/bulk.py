"""One action on several printers at once (the farm view's toolbar): each printer is tried on its
own, so one that refuses (not printing, not ready) never stops the others, and the caller learns
which did what. The actions are :data:`farmctl.farm.actions.ACTIONS` marked ``bulk``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.farm import actions

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

MAX_PRINTERS = 500


@dataclass(frozen=True, slots=True)
class BulkResult:
    printer: str
    error: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"printer": self.printer, "error": self.error}


def check(farm: Farm, names: Any, action: str, options: dict[str, Any]) -> actions.Step:
    """The action's step for these printers, or a refusal before any printer (here or on another node) is touched."""
    if not isinstance(names, (list, tuple)) or not names or len(names) > MAX_PRINTERS:
        raise FarmctlError("printers must be a list of printer names (select at least one)")
    return actions.prepare(farm, action, options, bulk=True)


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
