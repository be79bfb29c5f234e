"""The queue driver: for one printer, claim the next copy, print it, count it, run the hooks, repeat.

One task per printer. Every print ends in one place (``_settle``) that records the run's result
in the same transaction that counts it, so a crash can never leave a finished print uncounted
or a counted print unfinished. ``set_active(False)`` stops taking new work but never stops a
print in progress, as in Continuous Print. A copy that cannot start (its file is missing, the
printer refuses it) is given back and tried again, up to ``MAX_START_ATTEMPTS`` starts in a row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from farmctl.automation import Event as HookEvent
from farmctl.automation import run_event
from farmctl.errors import FarmctlError
from farmctl.farm.driver_status import (
    MAX_START_ATTEMPTS, STOPPED, WAITING, DriverState, DriverStatus, Loadout, MaterialNeed,
)
from farmctl.farm.print_source import CardNotReady, Refused, StartFailed, card_mounted, print_source
from farmctl.printer import JobOutcome, JobResult, Printer, PrinterState
from farmctl.queue import Claim, QueueModel
from farmctl.queue.counting import first_mismatch
from farmctl.store import ARCHIVE_QUEUE, DatabaseBusy, RunResult, Store

log = logging.getLogger(__name__)

__all__ = ["DriverState", "DriverStatus", "Loadout", "QueueDriver", "ScriptRun", "StartFailed"]

IDLE_RECHECK = 5.0
"""Seconds between looks at the queue while idle (a change in the queue wakes the driver sooner)."""
COOLDOWN_POLL = 0.5
BUSY_RETRY = 2.0
"""Seconds between tries to record a result while another process holds the database's lock."""
START_RETRY_DELAY = 2.0
"""Seconds between a failed start and the next attempt."""
CARD_RECHECK = 10.0
"""Seconds between tries to mount the card (M21) while the next copy waits for it (an init through the
API, or any change to the queue, tries again at once)."""
_BUSY = (PrinterState.PRINTING, PrinterState.PAUSING, PrinterState.PAUSED, PrinterState.CANCELLING)


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """An event script the driver handed to the printer, from a temporary file of its own."""

    event: HookEvent
    path: Path


class QueueDriver:
    """Feeds one printer from the farm's queues."""

    def __init__(self, name: str, printer: Printer, model: QueueModel, store: Store, uploads: Path,
                 loadout: Loadout = Loadout(), on_change: Callable[[], None] | None = None,
                 on_select: Callable[[str, bool], None] | None = None,
                 filament_of: Callable[[str], Awaitable[float | None]] | None = None,
                 ensure_file: Callable[[str, Callable[[], None]], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.printer = printer
        self.model = model
        self.store = store
        self.uploads = uploads
        self.loadout = loadout
        """What the printer offers (profile name, loaded materials); the farm replaces it when they change."""
        self.state = DriverState.INACTIVE
        self.reason = ""
        self.current_path: str | None = None
        self.card_wanted: str | None = None
        """The SD set's file that waits for the printer's card (while AWAITING_SD_CARD)."""
        self.blocked: str | None = None
        """Why this printer may take no work at all (maintenance); None: it may."""
        self.last_script: ScriptRun | None = None
        """The last event script started; the printer's job is this script while its path matches."""
        self.start_retry_delay = START_RETRY_DELAY
        self.card_recheck = CARD_RECHECK
        self._failed_starts = 0
        self._need: MaterialNeed | None = None
        self._active = False
        self._wake = asyncio.Event()
        self._on_change = on_change
        self._on_select = on_select  # a set's file is about to print: OctoPrint clients see it selected
        self._filament_of = filament_of  # a stored file's filament (mm, all tools), for statistics
        self._ensure_file = ensure_file  # fetches a set's file another node holds, checked by hash
        self._task: asyncio.Task[None] | None = None
        self._log = logging.LoggerAdapter(log, {"printer": name})

    # -- control -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._active

    @property
    def status(self) -> DriverStatus:
        state = self.state
        if state in STOPPED:
            return DriverStatus(state, self.reason, printing_unmanaged=self.printer.state in _BUSY)
        if state == DriverState.PRINTING and self.printer.state == PrinterState.PAUSED:
            return DriverStatus(DriverState.PAUSED)
        if state == DriverState.START_FAILED:
            return DriverStatus(state, self.reason, attempt=self._failed_starts)
        if state == DriverState.AWAITING_SD_CARD:
            return DriverStatus(state, self.reason)
        if state == DriverState.AWAITING_MATERIAL:
            return DriverStatus(state, need=self._need)
        return DriverStatus(state)

    async def restore(self) -> None:
        """After a start the queue is inactive; the stored reason (an interrupted print) is kept."""
        async with self.store.transaction(write=False) as tx:
            stored = await tx.printers.status(self.name)
        self._active = False
        self.reason = stored.reason if stored is not None else ""

    async def set_active(self, active: bool, reason: str = "", *, gave_up: bool = False) -> None:
        """Start or stop taking new work; a print in progress is never stopped by this.

        ``gave_up``: the queue stops because every start attempt failed (shown as such)."""
        if active and self.blocked is not None:
            raise FarmctlError(f"{self.name} is {self.blocked}; end the maintenance before managing it", 409)
        self._active = active
        self.reason = "" if active else reason
        if active:
            self._failed_starts = 0
        # Only a driver with nothing under way changes state here: a print, a hook or a cooldown in
        # progress keeps its state (re-sending active=true must not make a printing printer look idle).
        # The state changes before the status is stored, so no client sees a half-made change.
        if active and self.state in STOPPED:
            self._set(DriverState.IDLE)
        elif not active and (gave_up or self.state in WAITING):
            self._set(DriverState.FAILED_TO_START if gave_up else DriverState.INACTIVE)
        elif self._on_change:
            self._on_change()
        await self._store_status(self.reason)
        if active and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"queue driver {self.name}")
        self.wake()

    def set_loadout(self, loadout: Loadout) -> None:
        """The printer's profile or materials changed: a set that waited for them may print now."""
        self.loadout = loadout
        self.wake()

    def wake(self) -> None:
        """The queue changed: look again now."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _set(self, state: DriverState) -> None:
        if state != self.state:
            self._log.info("queue: %s", state.value)
            self.state = state
        if self._on_change:
            self._on_change()

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while self._active:
                self._wake.clear()  # here, not in _sleep: a wake that comes while claiming is not lost
                if self.printer.state != PrinterState.OPERATIONAL:
                    self._set(DriverState.WAITING_FOR_PRINTER)
                    await self._sleep(1.0)
                    continue
                loadout, queues = self.loadout, await self._queues()
                upcoming = await self.model.counting.next_set(loadout.profile, queues=queues,
                                                              materials=loadout.materials)
                if upcoming is not None and upcoming.sd and not await card_mounted(self.printer):
                    await self._await_card(upcoming.path)  # nothing claimed: no run, no attempt
                    continue
                claim = await self.model.counting.claim(self.name, loadout.profile, queues=queues,
                                                        materials=loadout.materials)
                if claim is None:
                    await self._wait_for_work(loadout, queues)
                    continue
                if self.loadout != loadout:  # the spool or profile changed while claiming: look again
                    await self.model.counting.withdraw(claim.run.id)
                    continue
                await self._print_claim(claim)
            if self.state not in STOPPED:
                self._set(DriverState.INACTIVE)
        except Exception as exc:  # an unexpected failure stops this printer's queue, never the farm
            self._log.exception("queue driver failed")
            try:
                await self._abandon_open_run()
            except FarmctlError as again:  # the database still refuses: the next start aborts the run
                self._log.warning("the open run stays open: %s", again.message)
            self._active = False
            self.reason = (f"the queue stopped: {exc.message}" if isinstance(exc, FarmctlError)
                           else "an internal error stopped the queue; see the log")
            self._set(DriverState.INACTIVE)
        finally:
            self._task = None

    async def _wait_for_work(self, loadout: Loadout, queues: list[str]) -> None:
        """Nothing to claim: idle, or awaiting material when every copy left wants another material."""
        blocked = await self.model.counting.waiting_for_material(loadout.profile, loadout.materials, queues=queues)
        if blocked is None or loadout.materials is None:
            self._need = None
            self._set(DriverState.IDLE)
        else:
            mismatch = first_mismatch(blocked, loadout.materials)
            need = MaterialNeed(*mismatch) if mismatch else None
            if self.state != DriverState.AWAITING_MATERIAL:
                self._need = need
                self._set(DriverState.AWAITING_MATERIAL)
                await self._run_hooks(HookEvent.AWAITING_MATERIAL, await self._symbols_now(blocked.path))
            elif need != self._need:
                self._need = need
                self._set(DriverState.AWAITING_MATERIAL)
        await self._sleep(IDLE_RECHECK)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _queues(self) -> list[str]:
        return [queue.name for queue in await self.model.settings.get_queues() if queue.name != ARCHIVE_QUEUE]

    async def _fetch(self, path: str) -> None:
        """An upload this node lacks comes from another node or the shared folder, checked by hash."""
        if self._ensure_file is not None:
            await self._ensure_file(path, lambda: self._set(DriverState.FETCHING))

    async def _print_claim(self, claim: Claim) -> None:
        self.current_path = claim.set.path
        self._need = None
        try:
            path = await print_source(claim.set, self.uploads, self.printer, self._fetch)
        except Refused as exc:
            await self._settle(claim.run.id, RunResult.CANCELLED)
            await self.set_active(False, exc.reason)
            return
        except StartFailed as exc:
            await self._start_failed(claim, exc.reason)
            return
        except CardNotReady:  # taken out since the look before the claim
            await self.model.counting.withdraw(claim.run.id)
            self.current_path = None
            await self._await_card(claim.set.path)
            return
        symbols = await self._symbols(claim)
        self.reason = ""  # a copy is under way: why an earlier start failed or waited is moot now
        self._set(DriverState.STARTING)
        if not await self._run_hooks(HookEvent.PRINT_START, symbols):
            await self._settle(claim.run.id, RunResult.CANCELLED)
            return
        if self._on_select:
            self._on_select(path if isinstance(path, str) else claim.set.path, claim.set.sd)
        self._set(DriverState.PRINTING)
        try:
            if isinstance(path, str):
                result = await self.printer.print_sd(path)
            else:
                result = await self.printer.print_file(path)
        except FarmctlError as exc:
            await self._start_failed(claim, f"could not start {claim.set.path}: {exc.message}")
            return
        self._failed_starts = 0
        await self._note(claim.run.id, claim.set.path, result)
        if result.outcome == JobOutcome.DONE:
            await self._settle(claim.run.id, RunResult.SUCCESS)
            await self._after_success(symbols)
        elif result.outcome == JobOutcome.CANCELLED:
            await self._settle(claim.run.id, RunResult.CANCELLED)
            await self._run_hooks(HookEvent.PRINT_CANCEL, symbols)
            await self.set_active(False, f"{claim.set.path} was cancelled")
        else:
            await self._settle(claim.run.id, RunResult.FAILURE)
            await self.set_active(False, f"{claim.set.path} failed: {result.reason}")
        self.current_path = None

    async def _await_card(self, path: str) -> None:
        """The next copy prints from a card that is not there: it stays owed, and the next pass tries
        to mount the card again (M21) after a while, or at once when woken (an init through the API)."""
        reason = (f"{path} waits for the printer's SD card (none inserted, or it failed to initialise); "
                  "the copy is still owed")
        if self.state != DriverState.AWAITING_SD_CARD:
            self._log.warning("%s", reason)
        self.reason, self.card_wanted = reason, path
        self._set(DriverState.AWAITING_SD_CARD)
        await self._sleep(self.card_recheck)

    async def _start_failed(self, claim: Claim, reason: str) -> None:
        """Give the copy back; try again after a moment, or stop once every attempt failed."""
        await self.model.counting.withdraw(claim.run.id)
        self.current_path = None
        self._failed_starts += 1
        self._log.warning("start attempt %d/%d failed: %s", self._failed_starts, MAX_START_ATTEMPTS, reason)
        if self._failed_starts >= MAX_START_ATTEMPTS:
            await self.set_active(False, reason, gave_up=True)
            return
        self.reason = reason
        self._set(DriverState.START_FAILED)
        await asyncio.sleep(self.start_retry_delay)

    async def _note(self, run_id: int, path: str, result: JobResult) -> None:
        """What the print leaves for statistics: the reason it ended, filament used (the file's total
        times the share printed), seconds printed. Lost notes lose only statistics, never the count."""
        done = result.outcome == JobOutcome.DONE
        progress = self.printer.progress
        share = 1.0 if done else (progress.fraction if progress is not None else 0.0)
        try:
            total = None if self._filament_of is None else await self._filament_of(path)
            await self.model.statistics.note_run(run_id, reason="" if done else result.reason or result.outcome.value,
                                                 filament_mm=None if total is None else total * share,
                                                 print_seconds=result.seconds)
        except (FarmctlError, OSError) as exc:
            self._log.warning("statistics of run %d not kept: %s", run_id, exc)

    async def _abandon_open_run(self) -> None:
        """After an internal error: an open run not being printed is closed as aborted; its copy stays owed."""
        if self.printer.state in _BUSY:
            return  # the print goes on; it is settled when it ends or at the next start
        run = await self.model.counting.open_run(self.name)
        if run is not None:
            await self._settle(run.id, RunResult.ABORTED)

    async def _settle(self, run_id: int, result: RunResult) -> None:
        """The single place a print's outcome is recorded (and counted, in the same transaction); the
        queue announces the change itself, so other printers look for the copy or pass it freed."""
        # A result is never dropped: while another process holds the database it is tried again (an
        # open run would be taken for an interrupted print at the next start, and printed again).
        while True:
            try:
                await self.model.counting.finish_run(run_id, result)
                return
            except DatabaseBusy:
                self._log.warning("the result of %s waits: the queue database is locked", self.current_path)
                await asyncio.sleep(BUSY_RETRY)

    async def _after_success(self, symbols: dict) -> None:
        """As Continuous Print: when another copy follows, cool the bed (if enabled) and clear it; after
        the last, clear and run the finish scripts."""
        more = await self.has_work()
        if more:
            await self._cool_down(symbols)
        self._set(DriverState.CLEARING_BED)
        await self._run_hooks(HookEvent.PRINT_SUCCESS, symbols)
        if not more or not await self.has_work():
            self._set(DriverState.FINISHING)
            await self._run_hooks(HookEvent.FINISH, symbols)

    async def has_work(self) -> bool:
        """Whether this printer's queues hold a copy it could print now, with what it has loaded
        (nothing is reserved)."""
        loadout = self.loadout
        return await self.model.counting.has_work(loadout.profile, queues=await self._queues(),
                                                  materials=loadout.materials)

    async def _cool_down(self, symbols: dict) -> None:
        """Wait until the bed is below the threshold, or the timeout passes (Continuous Print's Bed Cooldown)."""
        options = await self.model.settings.get_options()
        if not options.bed_cooldown_enabled:
            return
        self._set(DriverState.COOLING_DOWN)
        await self._run_hooks(HookEvent.COOLDOWN, symbols)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.bed_cooldown_timeout * 60.0
        while loop.time() < deadline:
            reading = self.printer.temperatures.get("B") if self.printer.temperatures else None
            if reading is not None and reading.actual < options.bed_cooldown_threshold:
                self._log.info("bed at %.1f °C, below %.1f °C: cooled down", reading.actual,
                               options.bed_cooldown_threshold)
                return
            await asyncio.sleep(COOLDOWN_POLL)
        self._log.info("bed cooldown timed out after %.0f min", options.bed_cooldown_timeout)

    async def _symbols(self, claim: Claim) -> dict:
        symbols = await self._symbols_now(claim.set.path, list(claim.set.materials or []))
        symbols["metadata"] = _metadata(claim.set.metadata)
        return symbols

    async def _symbols_now(self, path: str, materials: list[str | None] | None = None) -> dict:
        temperatures = self.printer.temperatures
        bed = temperatures.get("B") if temperatures else None
        return {
            "current": {"path": path, "materials": materials if materials is not None else list(self.loadout.materials or []),
                        "bed_temp": bed.actual if bed else None, "state": self.state.name.lower()},
            "external": await self.model.settings.get_external(),
            "metadata": {},
        }

    async def _run_hooks(self, event: HookEvent, symbols: dict) -> bool:
        """Run an event's scripts as a small print (``@pause`` holds it until a person resumes).

        Clients are not told it is a print (see ``FarmPrinter.script_event``): like OctoPrint's own
        G-code scripts it sends no print events, and a farm manager's history keeps only real prints."""
        result = run_event(event, await self.model.settings.hooks(event.value), symbols)
        if result.stderr:
            self._log.warning("%s", result.stderr.strip())
        if not result.gcode.strip():
            return True
        with tempfile.NamedTemporaryFile("w", suffix=".gcode", prefix=f"{event.value}-", delete=False) as handle:
            handle.write(result.gcode + "\n")
            script = Path(handle.name)
        self.last_script = ScriptRun(event, script)  # before printing: PrintStarted is decided as it starts
        await self._store_status(f"the {event.display_name} script was interrupted by a restart: check the "
                                 "printer and its bed, then click Start Managing")
        try:
            outcome = await self.printer.print_file(script)
        except FarmctlError as exc:
            self._log.warning("%s script not run: %s", event.display_name, exc.message)
            return False
        finally:
            script.unlink(missing_ok=True)
            await self._store_status(self.reason)
        return outcome.outcome == JobOutcome.DONE

    async def _store_status(self, reason: str) -> None:
        """What a restart shows: during an event script, that it was cut off (the bed may not be clear)."""
        async with self.store.transaction() as tx:
            await tx.printers.set_status(self.name, self._active, reason, time.time())


def _metadata(text: str | None) -> dict:
    """A set's metadata for preprocessors: the stored JSON object, or empty."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
