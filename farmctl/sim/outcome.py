"""What a command handler tells the firmware: ack now, ack on its own, or hold the queue.

Kept apart from the engine so the command table (``gcodes``) and the engine (``firmware``)
both depend on it and not on each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from farmctl.sim.physics import Heater


class Reply(Enum):
    """What a finished command still owes the host."""

    OK = "ok"          # the usual ok (with N/P/B under ADVANCED_OK)
    SILENT = "silent"  # the handler printed its own ok, or none is due


class WaitKind(Enum):
    PLANNER = "planner"  # G0-G3 waiting for a free planner block
    SYNC = "sync"        # M400: until the planner is empty
    TIMED = "timed"      # G4, G28, G29: fixed duration (after the planner emptied)
    HEAT = "heat"        # M109, M190: until the heater reached its target


@dataclass(slots=True)
class Wait:
    """A command that holds the queue until ``until`` (the driver's clock)."""

    kind: WaitKind
    until: float
    then: Callable[[float], Reply] | None = None
    heater: Heater | None = None
    residency: float = 0.0  # firmware seconds of the heat wait spent at temperature


def command_code(command: str) -> str:
    """``G1``, ``M109``, ``T0``, ``M862.3``: the upper-cased command word Marlin dispatches on."""
    word = command.split(None, 1)[0].upper() if command.strip() else ""
    for index, char in enumerate(word[1:], start=1):
        if not (char.isdigit() or char == "."):
            return word[:index]
    return word
