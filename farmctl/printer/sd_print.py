"""A print the printer runs from its own SD card, as the host follows it: started with M24, its
progress from M27 (reported by the firmware itself with AUTOREPORT_SD_STATUS, else polled), its end
from ``Done printing file``, and a ``Not SD printing`` that no cancel of ours explains: a stop on
the printer's own screen. The printer owns the state; this knows the card's side of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import Enum

from farmctl.job import JobProgress
from farmctl.protocol.replies import SdEvent, SdStatus
from farmctl.sd import SD_PROGRESS_INTERVAL, SdCommands


class SdEnd(Enum):
    """How the firmware says an SD print ended."""

    DONE = "the printer finished the file on its SD card"
    STOPPED = "the SD print was stopped on the printer"


class SdPrint:
    """One SD print: ``name`` is the card's 8.3 name; ``submit`` sends a command at once without waiting."""

    def __init__(self, name: str, commands: SdCommands, submit: Callable[[str], None]) -> None:
        self.name = name
        self.commands = commands
        self._submit = submit
        self._started = False  # M24 was acknowledged: a "Not SD printing" now means it stopped
        self._poller: asyncio.Task[None] | None = None

    async def start(self, command: Callable[[str], Awaitable[None]], printer_name: str) -> None:
        """M24 (waiting for its ok), then progress reports: ``M27 S<n>`` or the host's own polls."""
        await command("M24")
        self._started = True
        if self.commands.autoreport:
            await command(f"M27 S{SD_PROGRESS_INTERVAL}")
        else:
            self._poller = asyncio.create_task(self._poll(), name=f"{printer_name} SD progress")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(SD_PROGRESS_INTERVAL)
            self._submit("M27")

    def heard(self, event: SdStatus, progress: JobProgress | None, paused: bool) -> SdEnd | None:
        """Follow a status line: progress moves on, or the print ended (None while it goes on)."""
        if event.event is SdEvent.PRINTING and progress is not None and event.current is not None:
            progress.offset = event.current
            if event.total:
                progress.size = event.total
        elif event.event is SdEvent.DONE:
            if progress is not None:
                progress.offset = progress.size
            return SdEnd.DONE
        elif event.event is SdEvent.NOT_PRINTING and self._started and not paused:
            return SdEnd.STOPPED  # no "Done printing file": stopped on the printer itself
        return None

    def stop_reports(self, connected: bool) -> None:
        """The print ended: no more progress polls, or ``M27 S0`` while the firmware still listens."""
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        elif self.commands.autoreport and connected:
            self._submit("M27 S0")
