"""The queue driver: for one printer, claim the next copy, print it, count it, run the hooks, repeat.

One task per printer. Every print ends in one place (``_settle``) that records the run's result
in the same transaction that counts it, so a crash can never leave a finished print uncounted
or a counted print unfinished. ``set_active(False)`` stops taking new work but never stops a
print in progress, as in Continuous Print.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from farmctl.automation import Event as HookEvent
from farmctl.automation import run_event
from farmctl.errors import FarmctlError
from farmctl.files.paths import resolve_in
from farmctl.printer import JobOutcome, JobResult, Printer, PrinterState
from farmctl.queue import QueueModel
from farmctl.store import ARCHIVE_QUEUE, RunResult, Store

log = logging.getLogger(__name__)

IDLE_RECHECK = 5.0
"""Seconds between looks at the queue while idle (a change in the queue wakes the driver sooner)."""
COOLDOWN_POLL = 2.0


class DriverState(Enum):
    """What the driver is doing. What Continuous Print shows for each is the HTTP layer's to say."""

    INACTIVE = "inactive"
    WAITING_FOR_PRINTER = "waiting for printer"
    IDLE = "idle"
    STARTING = "starting"
    PRINTING = "printing"
    PAUSED = "paused"
    CLEARING_BED = "clearing bed"
    COOLING_DOWN = "cooling down"
    FINISHING = "finishing"


@dataclass(frozen=True, slots=True)
class DriverStatus:
    """The driver's state as clients see it; ``reason`` says why an inactive queue stopped."""

    state: DriverState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """An event script the driver handed to the printer, from a temporary file of its own."""

    event: HookEvent
    path: Path


@dataclass(frozen=True, slots=True)
class DriverSettings:
    cooldown_below: float | None = None  # bed °C; None: no cooldown wait
    cooldown_timeout: float = 3600.0
    profile: str | None = None  # matched against a set's profiles list


class QueueDriver:
    """Feeds one printer from the farm's queues."""

    def __init__(self, name: str, printer: Printer, model: QueueModel, store: Store, uploads: Path,
                 settings: DriverSettings = DriverSettings(), on_change: Callable[[], None] | None = None,
                 on_select: Callable[[str], None] | None = None,
                 filament_of: Callable[[str], Awaitable[float | None]] | None = None) -> None:
        self.name = name
        self.printer = printer
        self.model = model
        self.store = store
        self.uploads = uploads
        self.settings = settings
        self.state = DriverState.INACTIVE
        self.reason = ""
        self.current_path: str | None = None
        self.blocked: str | None = None
        """Why this printer may take no work at all (maintenance); None: it may."""
        self.last_script: ScriptRun | None = None
        """The last event script started; the printer's job is this script while its path matches."""
        self._active = False
        self._wake = asyncio.Event()
        self._on_change = on_change
        self._on_select = on_select  # a set's file is about to print: OctoPrint clients see it selected
        self._filament_of = filament_of  # a stored file's filament (mm, all tools), for statistics
        self._task: asyncio.Task[None] | None = None
        self._log = logging.LoggerAdapter(log, {"printer": name})

    # -- control -----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._active

    @property
    def status(self) -> DriverStatus:
        if self.state == DriverState.INACTIVE:
            return DriverStatus(self.state, self.reason)
        if self.state == DriverState.PRINTING and self.printer.state == PrinterState.PAUSED:
            return DriverStatus(DriverState.PAUSED)
        return DriverStatus(self.state)

    async def restore(self) -> None:
        """After a start the queue is inactive; the stored reason (an interrupted print) is kept."""
        async with self.store.transaction(write=False) as tx:
            stored = await tx.printers.status(self.name)
        self._active = False
        self.reason = stored.reason if stored is not None else ""

    async def set_active(self, active: bool, reason: str = "") -> None:
        """Start or stop taking new work; a print in progress is never stopped by this."""
        if active and self.blocked is not None:
            raise FarmctlError(f"{self.name} is {self.blocked}; end the maintenance before managing it", 409)
        self._active = active
        self.reason = "" if active else reason
        async with self.store.transaction() as tx:
            await tx.printers.set_status(self.name, active, self.reason, time.time())
        if active and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"queue driver {self.name}")
        # Only a driver with nothing under way changes state here: a print, a hook or a cooldown in
        # progress keeps its state (re-sending active=true must not make a printing printer look idle).
        if active and self.state == DriverState.INACTIVE:
            self._set(DriverState.IDLE)
        elif not active and self.state in (DriverState.IDLE, DriverState.WAITING_FOR_PRINTER):
            self._set(DriverState.INACTIVE)
        elif self._on_change:
            self._on_change()
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
                claim = await self.model.counting.claim(self.name, self.settings.profile, queues=await self._queues())
                if claim is None:
                    self._set(DriverState.IDLE)
                    await self._sleep(IDLE_RECHECK)
                    continue
                await self._print_claim(claim)
            if self.state != DriverState.INACTIVE:
                self._set(DriverState.INACTIVE)
        except Exception:  # an unexpected failure stops this printer's queue, never the farm
            self._log.exception("queue driver failed")
            await self._abandon_open_run()
            self._active = False
            self.reason = "an internal error stopped the queue; see the log"
            self._set(DriverState.INACTIVE)
        finally:
            self._task = None

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def has_work(self) -> bool:
        """Whether this printer's queues hold a copy it could print now (nothing is reserved)."""
        return await self.model.counting.has_work(self.settings.profile, queues=await self._queues())

    async def _queues(self) -> list[str]:
        return [queue.name for queue in await self.model.settings.get_queues() if queue.name != ARCHIVE_QUEUE]

    async def _print_claim(self, claim) -> None:
        self.current_path = claim.set.path
        try:  # a stored path, or a symlink under uploads, must not lead to a file elsewhere on the host
            path = await asyncio.to_thread(resolve_in, self.uploads, claim.set.path, require_extension=False)
        except FarmctlError as exc:
            await self._settle(claim.run.id, RunResult.CANCELLED)
            await self.set_active(False, f"{claim.set.path} is not printable: {exc.message}; the copy is still owed")
            return
        if not path.is_file():
            await self._settle(claim.run.id, RunResult.CANCELLED)
            await self.set_active(False, f"{claim.set.path} is missing; the copy is still owed")
            return
        symbols = await self._symbols(claim)
        self._set(DriverState.STARTING)
        if not await self._run_hooks(HookEvent.PRINT_START, symbols):
            await self._settle(claim.run.id, RunResult.CANCELLED)
            return
        self._set(DriverState.PRINTING)
        if self._on_select:
            self._on_select(claim.set.path)
        try:
            result = await self.printer.print_file(path)
        except FarmctlError as exc:
            await self._settle(claim.run.id, RunResult.CANCELLED)
            await self.set_active(False, f"could not start {claim.set.path}: {exc.message}")
            return
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
        if self.printer.state in (PrinterState.PRINTING, PrinterState.PAUSING, PrinterState.PAUSED):
            return  # the print goes on; it is settled when it ends or at the next start
        run = await self.model.counting.open_run(self.name)
        if run is not None:
            await self._settle(run.id, RunResult.ABORTED)

    async def _settle(self, run_id: int, result: RunResult) -> None:
        """The single place a print's outcome is recorded (and counted, in the same transaction); the
        queue announces the change itself, so other printers look for the copy or pass it freed."""
        await self.model.counting.finish_run(run_id, result)

    async def _after_success(self, symbols: dict) -> None:
        self._set(DriverState.CLEARING_BED)
        await self._run_hooks(HookEvent.PRINT_SUCCESS, symbols)
        await self._cool_down(symbols)
        if not await self.has_work():
            self._set(DriverState.FINISHING)
            await self._run_hooks(HookEvent.FINISH, symbols)

    async def _cool_down(self, symbols: dict) -> None:
        threshold = self.settings.cooldown_below
        if threshold is None:
            return
        self._set(DriverState.COOLING_DOWN)
        await self._run_hooks(HookEvent.COOLDOWN, symbols)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.cooldown_timeout
        while loop.time() < deadline:
            reading = self.printer.temperatures.get("B") if self.printer.temperatures else None
            if reading is not None and reading.actual < threshold:
                return
            await asyncio.sleep(COOLDOWN_POLL)

    async def _symbols(self, claim) -> dict:
        temperatures = self.printer.temperatures
        bed = temperatures.get("B") if temperatures else None
        return {
            "current": {"path": claim.set.path, "materials": list(claim.set.materials or []),
                        "bed_temp": bed.actual if bed else None, "state": self.state.name.lower()},
            "external": await self.model.settings.get_external(),
            "metadata": _metadata(claim.set.metadata),
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
        try:
            outcome = await self.printer.print_file(script)
        except FarmctlError as exc:
            self._log.warning("%s script not run: %s", event.display_name, exc.message)
            return False
        finally:
            script.unlink(missing_ok=True)
        return outcome.outcome == JobOutcome.DONE


def _metadata(text: str | None) -> dict:
    """A set's metadata for preprocessors: the stored JSON object, or empty."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
