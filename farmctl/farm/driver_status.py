"""What a queue driver is doing, in farmctl's terms; the texts Continuous Print shows for each are
the HTTP layer's (``farmctl.http.cp_json``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MAX_START_ATTEMPTS = 3
"""Starts that may fail in a row before the queue stops (Continuous Print's max_startup_attempts)."""


class DriverState(Enum):
    INACTIVE = "inactive"
    WAITING_FOR_PRINTER = "waiting for printer"
    IDLE = "idle"
    AWAITING_MATERIAL = "awaiting material"
    FETCHING = "fetching file"  # the claimed set's file comes from another node or the shared folder
    AWAITING_SD_CARD = "awaiting SD card"  # the next copy prints from a card that is absent or not mounted
    STARTING = "starting"  # the print-start event's scripts run
    START_FAILED = "start failed"  # a start failed; another attempt follows
    FAILED_TO_START = "failed to start"  # inactive: every attempt failed
    PRINTING = "printing"
    PAUSED = "paused"
    COOLING_DOWN = "cooling down"
    CLEARING_BED = "clearing bed"
    FINISHING = "finishing"


STOPPED = frozenset({DriverState.INACTIVE, DriverState.FAILED_TO_START})
"""States of a driver that takes no work."""

WAITING = frozenset({DriverState.IDLE, DriverState.WAITING_FOR_PRINTER, DriverState.AWAITING_MATERIAL,
                     DriverState.AWAITING_SD_CARD, DriverState.START_FAILED})
"""States with nothing under way: deactivating moves them to INACTIVE at once."""


@dataclass(frozen=True, slots=True)
class MaterialNeed:
    """The next set wants ``wanted`` in ``tool``; ``loaded`` is there (None: nothing)."""

    tool: int
    wanted: str
    loaded: str | None


@dataclass(frozen=True, slots=True)
class Loadout:
    """What a printer offers the queue: its printer profile name and the material in each tool.

    ``materials`` None means the printer tracks no materials, so sets that name some may print on it."""

    profile: str | None = None
    materials: tuple[str | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class DriverStatus:
    state: DriverState
    reason: str = ""  # why an inactive queue stopped, why the last start failed, or what waits for the card
    attempt: int = 0  # START_FAILED: the attempts failed so far (of MAX_START_ATTEMPTS)
    need: MaterialNeed | None = None  # AWAITING_MATERIAL: what the next set needs
    printing_unmanaged: bool = False  # INACTIVE while the printer prints something on its own
