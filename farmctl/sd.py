"""A printer's SD card as the host sees it: whether there is one, what is on it, and how the
firmware profile wants an SD print started, watched and stopped.

Marlin answers SD commands with plain lines before its ``ok`` (``Begin file list`` ... ``End file
list``, ``File opened: X Size: n``, ``open failed``), so each command here collects the replies
that arrive until its ``ok``. A firmware built without SDSUPPORT answers ``Unknown command``, and
the card then says so (``UNSUPPORTED``) instead of pretending to be empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from farmctl.errors import FarmctlError
from farmctl.protocol.replies import SdEvent, SdStatus, UnknownCommand

SD_PROGRESS_INTERVAL = 1
"""Seconds between the firmware's SD progress reports (``M27 S1``) or the host's M27 polls."""


class CardState(Enum):
    UNKNOWN = "unknown"  # not asked yet
    UNSUPPORTED = "unsupported"  # the firmware has no SD support
    ABSENT = "absent"  # no card, or it failed to mount
    READY = "ready"


@dataclass(frozen=True, slots=True)
class SdFile:
    name: str  # the 8.3 name the firmware opens (M23) and deletes (M30) it by
    size: int
    long_name: str | None = None

    @property
    def display(self) -> str:
        return self.long_name or self.name


@dataclass(frozen=True, slots=True)
class SdCommands:
    """How one firmware family drives its card (from the firmware profile)."""

    cancel: tuple[str, ...]  # Marlin 2: M524; Marlin 1.1 and Prusa: pause and rewind
    long_names: bool  # M20 L lists long names (LONG_FILENAME / EXTENDED_M20)
    autoreport: bool  # M27 S<n> makes the firmware report progress by itself


def sd_commands(profile_name: str, caps: Mapping[str, bool]) -> SdCommands:
    marlin2 = profile_name.startswith("marlin2")
    cancel = ("M524",) if marlin2 else ("M25", "M26 S0")
    return SdCommands(cancel, bool(caps.get("LONG_FILENAME") or caps.get("EXTENDED_M20")),
                      bool(caps.get("AUTOREPORT_SD_STATUS")))


class SdCard:
    """The card of one printer; ``send(command)`` sends a command and waits for its ok."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self.state = CardState.UNKNOWN
        self.files: tuple[SdFile, ...] = ()
        self._collected: list[SdStatus | UnknownCommand] | None = None
        self._one_at_a_time = asyncio.Lock()  # a command's replies are told from another's only by order

    @property
    def ready(self) -> bool:
        return self.state is CardState.READY

    def heard(self, reply: SdStatus | UnknownCommand) -> None:
        """A reply the printer passes on; kept if a command of this card is waiting for its ok."""
        if self._collected is not None:
            self._collected.append(reply)
        if isinstance(reply, SdStatus) and reply.event is SdEvent.CARD_FAILED and self.state is CardState.READY:
            self.state, self.files = CardState.ABSENT, ()

    def forget(self) -> None:
        """The printer reconnected: what was known about its card may be stale."""
        self.state, self.files = CardState.UNKNOWN, ()

    async def _run(self, command: str) -> list[SdStatus | UnknownCommand]:
        async with self._one_at_a_time:
            self._collected = collected = []
            try:
                await self._send(command)
            finally:
                self._collected = None
        if any(isinstance(r, UnknownCommand) for r in collected):
            self.state, self.files = CardState.UNSUPPORTED, ()
            raise FarmctlError("this printer's firmware has no SD card support (it does not know "
                               f"{command.split()[0]})", 409)
        return collected

    async def init(self, long_names: bool) -> CardState:
        """M21 (mount), then list the card."""
        replies = await self._run("M21")
        events = {r.event for r in replies if isinstance(r, SdStatus)}
        if SdEvent.CARD_FAILED in events or SdEvent.CARD_OK not in events:
            self.state, self.files = CardState.ABSENT, ()
            return self.state
        self.state = CardState.READY
        await self.refresh(long_names)
        return self.state

    async def refresh(self, long_names: bool) -> tuple[SdFile, ...]:
        """M20 (M20 L for long names): the files on the card now."""
        self._require_ready()
        replies = await self._run("M20 L" if long_names else "M20")
        if any(isinstance(r, SdStatus) and r.event is SdEvent.CARD_FAILED for r in replies):
            self.state, self.files = CardState.ABSENT, ()
            raise FarmctlError("the SD card is not ready", 409)
        self.files = tuple(SdFile(r.name or "", r.total or 0, r.long_name) for r in replies
                           if isinstance(r, SdStatus) and r.event is SdEvent.LIST_ENTRY)
        return self.files

    async def release(self) -> None:
        """M22: unmount, so the card can be taken out."""
        if self.state is CardState.UNSUPPORTED:
            raise FarmctlError("this printer's firmware has no SD card support", 409)
        await self._run("M22")
        self.state, self.files = CardState.ABSENT, ()

    async def select(self, name: str) -> int:
        """M23: open a file for printing; its size."""
        self._require_ready()
        replies = await self._run(f"M23 {name}")
        opened = [r for r in replies if isinstance(r, SdStatus) and r.event is SdEvent.FILE_OPENED]
        if not opened:
            raise FarmctlError(f"{name} is not on the printer's SD card", 404)
        return opened[-1].total or 0

    async def delete(self, name: str) -> None:
        """M30."""
        self._require_ready()
        replies = await self._run(f"M30 {name}")
        if not any(isinstance(r, SdStatus) and r.event is SdEvent.DELETED for r in replies):
            raise FarmctlError(f"the printer could not delete {name} from its SD card", 409)
        self.files = tuple(f for f in self.files if f.name != name)

    def find(self, name: str) -> SdFile | None:
        """A file on the card by its 8.3 or long name (as last listed)."""
        for file in self.files:
            if name.upper() == file.name.upper() or name == file.long_name:
                return file
        return None

    def _require_ready(self) -> None:
        if self.state is CardState.UNSUPPORTED:
            raise FarmctlError("this printer's firmware has no SD card support", 409)
        if self.state is not CardState.READY:
            raise FarmctlError("the printer's SD card is not ready (none inserted, or not initialised)", 409)
