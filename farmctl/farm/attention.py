"""Which printers need a person, why, and the one action that usually settles it.

The farm view's "needs attention" strip shows these; the action ids are ones the dashboard's
printer actions know (``resume``, ``answer``, ``connect``, ``card_init``, ``manage``). The order of the checks is
the order of urgency: a firmware question blocks everything, a fault comes next, and a printer
that only waits for its queue to be managed comes last.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from farmctl.farm.driver import DriverState
from farmctl.printer import PrinterState
from farmctl.queue.counting import WorkQuery
from farmctl.store import ARCHIVE_QUEUE

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm, FarmPrinter

WORK_RECHECK = 10.0
"""Seconds an answer of :class:`WorkLookout` is kept when the queue's revision has not moved (a
queue shared by other nodes changes without this process's revision moving)."""


class AttentionKind(Enum):
    PROMPT = "prompt"
    ERROR = "error"
    DISCONNECTED = "disconnected"
    BED_CLEARING = "bed_clearing"
    QUEUE_STOPPED = "queue_stopped"
    SD_CARD = "sd_card"
    IDLE_WITH_WORK = "idle_with_work"


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: its label and the printer action it posts (with ``choice`` for a prompt's answer)."""

    label: str
    action: str
    choice: int | None = None


@dataclass(frozen=True, slots=True)
class Attention:
    kind: AttentionKind
    text: str
    choices: tuple[Choice, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "text": self.text,
                "choices": [{"label": c.label, "action": c.action, "choice": c.choice} for c in self.choices]}


_HELD_BY_SCRIPT = {
    DriverState.CLEARING_BED: ("Print done: clear the plate", "Plate cleared — start next"),
    DriverState.FINISHING: ("Queue finished: clear the plate", "Plate cleared"),
}


def may_idle_with_work(entry: FarmPrinter) -> bool:
    """Whether this printer would show "idle while its queue has work" if its queue had work: the
    printers worth asking the queue about (a printing or managed printer never shows it)."""
    printer, driver = entry.printer, entry.driver
    return (entry.maintenance is None and printer.prompt is None and printer.state == PrinterState.OPERATIONAL
            and not driver.active and not driver.reason)


class WorkLookout:
    """Which idle, unmanaged printers' queues have work, for every open page at once: one read of
    the queue per queue revision (or per :data:`WORK_RECHECK`) for all of them, so neither the number
    of printers nor the number of open pages multiplies the reads of a long queue."""

    def __init__(self, farm: Farm) -> None:
        self._farm = farm
        self._lock = asyncio.Lock()
        self._key: tuple[Any, ...] | None = None
        self._until = 0.0
        self._with_work: frozenset[str] = frozenset()

    async def with_work(self, now: float) -> frozenset[str]:
        """The printers, among those that :func:`may_idle_with_work`, whose queues hold a copy for them."""
        farm = self._farm
        wanted = {entry.name: entry.loadout for entry in farm.printers.values() if may_idle_with_work(entry)}
        key = (farm.revisions["queue"], tuple(sorted(wanted.items(), key=lambda item: item[0])))
        async with self._lock:
            if key != self._key or now >= self._until:
                self._with_work = frozenset(await self._look(wanted)) if wanted else frozenset()
                self._key, self._until = key, now + WORK_RECHECK
            return self._with_work

    async def _look(self, wanted: dict[str, Any]) -> set[str]:
        model = self._farm.model
        queues = tuple(q.name for q in await model.settings.get_queues() if q.name != ARCHIVE_QUEUE)
        return await model.counting.with_work({name: WorkQuery(queues, loadout.profile, loadout.materials)
                                               for name, loadout in wanted.items()})


def needs_attention(entry: FarmPrinter, queue_has_work: bool) -> Attention | None:
    """Why this printer needs a person now, or None. ``queue_has_work``: its queues hold a printable copy."""
    printer, driver = entry.printer, entry.driver
    if entry.maintenance is not None:
        return None  # taken out of service on purpose: nobody is expected to act
    if printer.prompt is not None:
        choices = tuple(Choice(text, "answer", number) for number, text in enumerate(printer.prompt.choices))
        return Attention(AttentionKind.PROMPT, printer.prompt.text, choices or (Choice("OK", "answer", 0),))
    if printer.state == PrinterState.ERROR:
        return Attention(AttentionKind.ERROR, printer.error or "the printer reported an error",
                         (Choice("Reconnect", "connect"),))
    if printer.state == PrinterState.OFFLINE:
        text = "disconnected" + (f": {printer.error}" if printer.error else "")
        return Attention(AttentionKind.DISCONNECTED, text, (Choice("Reconnect", "connect"),))
    held = _HELD_BY_SCRIPT.get(driver.state)
    if held is not None and printer.state == PrinterState.PAUSED:
        return Attention(AttentionKind.BED_CLEARING, held[0], (Choice(held[1], "resume"),))
    if driver.state == DriverState.AWAITING_SD_CARD:
        return Attention(AttentionKind.SD_CARD, f"{driver.card_wanted} waits for an SD card: insert it",
                         (Choice("Card inserted", "card_init"),))
    if not driver.active and driver.reason:
        return Attention(AttentionKind.QUEUE_STOPPED, f"queue stopped: {driver.reason}", (Choice("Retry", "manage"),))
    if not driver.active and queue_has_work and printer.state == PrinterState.OPERATIONAL:
        return Attention(AttentionKind.IDLE_WITH_WORK, "idle while its queue has work",
                         (Choice("Start managing", "manage"),))
    return None
