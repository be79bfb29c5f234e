"""What a claimed copy prints from: an upload, resolved inside the uploads folder, or a file on the
printer's own SD card, listed afresh. Each way a copy cannot start has its own exception, because
the queue answers each differently: try again, wait for the card, or stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from farmctl.errors import FarmctlError
from farmctl.files.paths import resolve_in
from farmctl.printer import Printer
from farmctl.sd import CardState
from farmctl.store import SetRecord

log = logging.getLogger(__name__)


class StartFailed(Exception):
    """A claimed copy could not start; the copy is given back and the start tried again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CardNotReady(Exception):
    """A claimed copy prints from the printer's SD card, which is absent or not mounted: the copy is
    given back and waits for the card, and no start attempt is counted (nothing was tried)."""


class Refused(Exception):
    """A claimed copy must never print as stored (its path leads outside the uploads): the queue stops."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def print_source(item: SetRecord, uploads: Path, printer: Printer,
                       fetch: Callable[[str], Awaitable[None]] | None = None) -> Path | str:
    """The file to stream for a copy of ``item``, or the name of the file on the printer's SD card;
    ``fetch`` brings an upload this node lacks from another node or the shared folder, checked by hash."""
    if item.sd:
        return await card_file(printer, item.path)
    try:  # a stored path, or a symlink under uploads, must not lead to a file elsewhere on the host
        path = await asyncio.to_thread(resolve_in, uploads, item.path, require_extension=False)
    except FarmctlError as exc:
        raise Refused(f"{item.path} is not printable: {exc.message}; the copy is still owed") from None
    if fetch is not None:
        try:
            await fetch(item.path)
        except FarmctlError as exc:
            raise StartFailed(exc.message) from None
    if not path.is_file():
        raise StartFailed(f"{item.path} is missing; the copy is still owed")
    return path


async def card_file(printer: Printer, path: str) -> str:
    """The card's name for an SD set's file, listed afresh; CardNotReady while there is no card to
    print from, StartFailed when the card cannot print it."""
    card = printer.sd
    failure: FarmctlError | None = None
    try:
        if card.state is not CardState.READY:
            await printer.sd_init()  # a card put in since: mount it
        if card.state is CardState.READY:
            await printer.sd_refresh()
    except FarmctlError as exc:
        failure = exc
    except asyncio.TimeoutError:
        failure = FarmctlError("the printer did not answer its SD card command in time", 409)
    if card.state is CardState.UNSUPPORTED:
        raise StartFailed(f"{path}: this printer's firmware has no SD card support; the copy is still owed")
    if card.state is not CardState.READY:
        raise CardNotReady(path)
    if failure is not None:
        raise StartFailed(f"{path}: {failure.message}; the copy is still owed")
    found = card.find(path)
    if found is None:
        raise StartFailed(f"{path} is not on the printer's SD card; the copy is still owed")
    return found.name


async def card_mounted(printer: Printer) -> bool:
    """Whether the card is there to print from, mounting it (M21) if it was not; a firmware without
    SD support counts as there, so its copy fails to start and says why."""
    card = printer.sd
    if card.state in (CardState.READY, CardState.UNSUPPORTED):
        return True
    try:
        await printer.sd_init()
    except FarmctlError as exc:
        log.info("printer %s: SD card: %s", printer.name, exc.message)
    except asyncio.TimeoutError:
        log.info("printer %s: SD card: no answer to M21 in time", printer.name)
    return card.state in (CardState.READY, CardState.UNSUPPORTED)
