"""Which printers need a person, why, and the one action that usually settles it.

The farm view's "needs attention" strip shows these; the action ids are ones the dashboard's
printer actions know (``resume``, ``answer``, ``connect``, ``card_init``, ``manage``). The order of the checks is
the order of urgency: a firmware question blocks everything, a fault comes next, and a printer
that only waits for its queue to be managed comes last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from farmctl.farm.driver import DriverState
from farmctl.printer import PrinterState

if TYPE_CHECKING:
    from farmctl.farm.farm import FarmPrinter


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
