"""The farm: one store, one uploads folder, and every configured printer with its queue driver.

Printers on ``port = "sim"`` get a simulated Marlin of the configured firmware profile, so the
whole farm runs on any machine. A printer whose port fails is retried every few seconds; a
failure on one printer never touches another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farmctl.auth import AuthService
from farmctl.automation import Event as HookEvent
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm import fleet
from farmctl.farm.driver import DriverSettings, QueueDriver
from farmctl.files import UploadFolder
from farmctl.errors import FarmctlError
from farmctl.printer import JobResult, Printer, PrinterState, PrintEvent
from farmctl.queue import QueueModel, QueueSnapshot
from farmctl.sim import SimulatedPrinter
from farmctl.store import PresetRecord, SetRecord, Store

log = logging.getLogger(__name__)

DATABASE_NAME = "farmctl.db"
RECONNECT_EVERY = 5.0
ACCESS_RECHECK = 5.0
"""Seconds between looks for keys revoked by another process, whose logins must end too."""
MAX_DISPLAY_NAME = 100
AREAS = ("queue", "history", "files")
"""What the farm counts changes of, besides printers (see :meth:`Farm.changed`)."""
PROMPT_PLUGIN = "action_command_prompt"
"""The OctoPrint plugin whose API and push messages carry firmware prompts (bundled with OctoPrint)."""


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How simulated printers run: real wire and move timing for a demo, full speed for tests."""

    full_speed: bool = False
    time_scale: float = 1.0


@dataclass(slots=True)
class FarmPrinter:
    config: PrinterConfig
    printer: Printer
    driver: QueueDriver
    sim: SimulatedPrinter | None = None
    keeper: asyncio.Task[None] | None = field(default=None, repr=False)
    selected: str | None = None
    """The uploads-relative file OctoPrint clients selected for this printer's next job."""
    stay_offline: bool = False
    """An operator disconnected the printer: the keeper does not reconnect it until asked."""
    appearance_name: str | None = None
    """The name OctoPrint clients gave it (appearance.name, kept in the store); None: ``name``."""
    tags: tuple[str, ...] = ()
    """Its groups: farm.toml's ``tags`` until the page sets others (kept in the store)."""
    maintenance: str | None = None
    """In maintenance, with this note: out of every queue until an operator ends it (kept in the store)."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def display_name(self) -> str:
        return self.appearance_name or self.name

    @property
    def script_event(self) -> HookEvent | None:
        """The queue event whose script the printer is (or was last) streaming; None for a user's file."""
        progress, script = self.printer.progress, self.driver.last_script
        if progress is not None and script is not None and progress.path == script.path:
            return script.event
        return None

    @property
    def script_name(self) -> str | None:
        """What clients see as the job's file during an event script, e.g. "Print Success script"."""
        event = self.script_event
        return None if event is None else f"{event.display_name} script"


class Farm:
    """Everything one ``farmctl serve`` process runs. ``async with Farm.running(...)`` in tests."""

    def __init__(self, config: FarmConfig, data_dir: Path, *, sim: SimOptions = SimOptions()) -> None:
        self.config = config
        self.data_dir = data_dir
        self.uploads_dir = data_dir / "uploads"
        self._uploads_real = self.uploads_dir  # resolved at start, when the folder exists
        self.sim_options = sim
        self.max_upload = config.max_upload
        self.store: Store
        self.model: QueueModel
        self.auth: AuthService
        self.uploads: UploadFolder
        self.printers: dict[str, FarmPrinter] = {}
        self.presets: list[PresetRecord] = []
        """Temperature presets (PLA, PETG...), editable in the page, kept in the store."""
        self.started = time.time()
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.revisions: dict[str, int] = {area: 0 for area in AREAS}
        """How often each area (queue, history, files) changed since start: a page refetches what it shows."""
        self._prints: set[asyncio.Task[JobResult]] = set()
        self._access_watch: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, config: FarmConfig, data_dir: Path, **options: Any) -> AsyncIterator[Farm]:
        farm = cls(config, data_dir, **options)
        await farm.start()
        try:
            yield farm
        finally:
            await farm.stop()

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(exist_ok=True)
        self._uploads_real = self.uploads_dir.resolve()
        self.store = await Store.open(self.data_dir / DATABASE_NAME)
        self.model = QueueModel.over(self.store)
        self.model.listen(self._queue_changed)
        self.auth = AuthService(self.store)
        self.uploads = UploadFolder(self.uploads_dir, self.max_upload)
        interrupted = await self.model.counting.recover_after_crash()
        for run in interrupted:
            async with self.store.transaction() as tx:
                await tx.printers.set_status(run.printer, False,
                                            f"the print of {run.set_path} was interrupted by a restart; "
                                            "that copy is still owed (click Start Managing to print it)", time.time())
        async with self.store.transaction(write=False) as tx:
            names = await tx.printers.names()
            offsets = await tx.printers.temperature_offsets()
        for config in self.config.printers:
            entry = self.printers[config.name] = await self._add_printer(config)
            entry.appearance_name = names.get(config.name)
            entry.printer.set_temperature_offsets(offsets.get(config.name, {}))
        await fleet.restore(self)
        self._access_watch = asyncio.create_task(self._watch_access(), name="revoked keys")

    async def _watch_access(self) -> None:
        while True:
            await asyncio.sleep(ACCESS_RECHECK)
            try:
                await self.auth.end_revoked_sessions()
            except Exception:  # a busy or broken database must not end the watch
                log.exception("looking for revoked keys failed")

    async def _add_printer(self, config: PrinterConfig) -> FarmPrinter:
        sim = None
        port = config.port
        if config.simulated:
            sim = SimulatedPrinter(config.profile or "marlin2", full_speed=self.sim_options.full_speed,
                                   time_scale=self.sim_options.time_scale).start()
            port = sim.path
        printer = Printer(config.name, port, config.baud, config.profile, on_change=self._state_changed,
                          on_print=self._print_event, on_prompt=self._prompt_changed)
        driver = QueueDriver(config.name, printer, self.model, self.store, self.uploads_dir,
                             DriverSettings(profile=config.profile), on_change=self.notify,
                             on_select=lambda path: self._select(config.name, path),
                             filament_of=self.filament_of)
        await driver.restore()
        entry = FarmPrinter(config, printer, driver, sim, tags=config.tags)
        entry.keeper = asyncio.create_task(self._keep_connected(entry), name=f"connect {config.name}")
        return entry

    async def _keep_connected(self, entry: FarmPrinter) -> None:
        """Connect, and reconnect after the port vanishes or the printer errs, every few seconds."""
        while True:
            if entry.printer.state in (PrinterState.OFFLINE, PrinterState.ERROR) and not entry.stay_offline:
                try:
                    await entry.printer.connect()
                except FarmctlError as exc:
                    log.warning("printer %s: %s", entry.name, exc.message)
            await asyncio.sleep(RECONNECT_EVERY)

    async def stop(self) -> None:
        if self._access_watch is not None:
            await _cancel(self._access_watch)
        for entry in self.printers.values():
            if entry.keeper is not None:
                await _cancel(entry.keeper)
            await entry.driver.stop()
            await entry.printer.disconnect()
            if entry.sim is not None:
                entry.sim.stop()
        if self._prints:  # a disconnect ends every print, so these finish at once
            await asyncio.wait(self._prints, timeout=5.0)
        await self.store.close()

    # -- lookups ---------------------------------------------------------------------------------

    def printer(self, name: str) -> FarmPrinter:
        try:
            return self.printers[name]
        except KeyError:
            raise FarmctlError(f"no printer named {name!r}", 404) from None

    async def rename(self, entry: FarmPrinter, name: str) -> None:
        """Set the name OctoPrint clients show. Stored first, so a refused or failed write changes nothing."""
        name = name.strip()
        if not name or len(name) > MAX_DISPLAY_NAME or not name.isprintable():
            raise FarmctlError(f"appearance.name must be 1 to {MAX_DISPLAY_NAME} printable characters")
        async with self.store.transaction() as tx:
            await tx.printers.set_name(entry.name, name, time.time())
        entry.appearance_name = name
        log.info("printer %s: OctoPrint clients now see it as %r", entry.name, name)

    async def set_temperature_offsets(self, entry: FarmPrinter, offsets: dict[str, float]) -> None:
        """Change some heaters' offsets (0 removes one). Kept per printer across restarts: an operator
        calibrates a printer's heaters once, and a power cut must not change what the queue prints
        with. Stored first, in one transaction, so a failed write changes nothing."""
        now = time.time()
        async with self.store.transaction() as tx:
            for heater, degrees in offsets.items():
                if degrees:
                    await tx.printers.set_temperature_offset(entry.name, heater, degrees, now)
                else:
                    await tx.printers.delete_temperature_offset(entry.name, heater)
        entry.printer.set_temperature_offsets(offsets)
        log.info("printer %s: temperature offsets now %s", entry.name, entry.printer.temperature_offsets or "none")

    def default_printer(self) -> FarmPrinter | None:
        """The printer the main port's OctoPrint paths address: the only one, or the one marked default."""
        if len(self.printers) == 1:
            return next(iter(self.printers.values()))
        marked = [p for p in self.printers.values() if p.config.default]
        return marked[0] if marked else None

    async def start_print(self, entry: FarmPrinter, path: Path) -> asyncio.Task[JobResult]:
        """Start printing ``path`` on one printer in a tracked task; returns once the print is under way.

        Raises the printer's FarmctlError (409 when it is not ready) instead of losing it in the task.
        """
        task = asyncio.create_task(entry.printer.print_file(path), name=f"print {path.name} on {entry.name}")
        self._prints.add(task)
        task.add_done_callback(self._print_ended)
        await asyncio.sleep(0)  # print_file checks the state and sets PRINTING before its first await
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        return task

    def _print_ended(self, task: asyncio.Task[JobResult]) -> None:
        self._prints.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(exc, FarmctlError):
            log.error("print task %s failed", task.get_name(), exc_info=exc)

    def _select(self, name: str, path: str) -> None:
        """The queue prints ``path`` on printer ``name``: select it, as Continuous Print does in OctoPrint,
        so /api/job keeps showing the file once the print is over."""
        self.printers[name].selected = path

    def wake_drivers(self) -> None:
        """Every driver looks at the queue again."""
        for entry in self.printers.values():
            entry.driver.wake()

    def _queue_changed(self) -> None:
        """The queue announced a committed change (a job, a count, a run): a copy may be free for a
        driver, and the pages showing the queue or the history look again."""
        self.wake_drivers()
        self.changed("queue", "history")

    # -- change notification (the push channel listens here) ------------------------------------
    # Messages are ``{"type": "changed"}`` (look again) or ``printer_event(...)``: an OctoPrint event
    # for one printer's clients, or for all of them when ``printer`` is None.

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def _state_changed(self, printer: Printer) -> None:
        self.notify(printer_event(printer.name, "PrinterStateChanged",
                                  {"state_id": printer.state.name, "state_string": printer.state.value}))

    def _prompt_changed(self, printer: Printer) -> None:
        """OctoPrint's Action Command Prompt plugin message: the firmware's question shown, or closed."""
        prompt = printer.prompt
        data = {"action": "close"} if prompt is None else {"action": "show", **prompt.as_dict()}
        self.notify({"type": "plugin", "printer": printer.name, "plugin": PROMPT_PLUGIN, "data": data})

    def _print_event(self, printer: Printer, event: PrintEvent, reason: str) -> None:
        """OctoPrint's payload: the file as clients know it (relative to the uploads), its size and time.

        An event script between prints (bed clearing) is no print: OctoPrint sends no print events
        for its own G-code scripts, and OctoFarm or FDM Monster would record a PrintDone in history.
        Its state changes still go out as PrinterStateChanged."""
        entry = self.printers.get(printer.name)
        if entry is not None and entry.script_event is not None:
            log.debug("printer %s: %s of the %s not sent", printer.name, event.value, entry.script_name)
            return
        payload: dict[str, Any] = {"origin": "local"}
        progress = printer.progress
        if progress is not None:
            payload.update(name=progress.path.name, path=self.upload_name(progress.path) or progress.path.name,
                           size=progress.size)
            if event in (PrintEvent.DONE, PrintEvent.FAILED, PrintEvent.CANCELLED):
                payload["time"] = round(progress.elapsed(time.monotonic()), 3)
        if reason and event == PrintEvent.FAILED:
            payload["reason"] = reason
        self.notify(printer_event(printer.name, event.value, payload))

    async def queue_view(self) -> tuple[QueueSnapshot, frozenset[str]]:
        """The queue now, and which of its sets' local files are not in the uploads folder."""
        snapshot = await self.model.state.snapshot()
        return snapshot, await self.uploads.missing(sorted(snapshot.local_paths))

    async def missing_files(self, sets: Iterable[SetRecord]) -> frozenset[str]:
        """Which of these sets' local files are not in the uploads folder (for their ``missing_file``)."""
        return await self.uploads.missing([s.path for s in sets if not s.sd])

    async def filament_of(self, relative: str) -> float | None:
        """Millimetres of filament (all tools) a stored file uses, from its analysis; None if unknown."""
        try:
            info = await self.uploads.info(relative)
        except FarmctlError:
            return None
        return None if info.analysis is None else sum(info.analysis.filament_mm)

    def upload_name(self, path: Path) -> str | None:
        """A printed file's path as clients know it, relative to the uploads folder; None for a file
        outside it (an event script). No file-system call: the push channel asks on every tick."""
        for root in (self.uploads_dir, self._uploads_real):
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return None

    def files_changed(self, kind: str, path: str) -> None:
        """An upload appeared (``FileAdded``) or went (``FileRemoved``): every printer's clients hear it."""
        name = path.rsplit("/", 1)[-1]
        self.changed("files")
        self.notify(printer_event(None, kind, {"storage": "local", "path": path, "name": name,
                                               "type": ["machinecode", "gcode"]}))
        self.notify(printer_event(None, "UpdatedFiles", {"type": "printables"}))

    def changed(self, *areas: str) -> None:
        """Something in these areas changed: bump their revisions and tell subscribers
        ``{"type": "changed", "areas": {area: revision}}`` (the dashboard refetches only what it shows)."""
        for area in areas:
            self.revisions[area] += 1
        self.notify({"type": "changed", "areas": {area: self.revisions[area] for area in areas}})

    def notify(self, event: dict[str, Any] | None = None) -> None:
        """Tell every subscriber; a subscriber whose queue is full misses this one (never blocks the farm)."""
        message = event or {"type": "changed"}
        for queue in self._subscribers:
            if not queue.full():
                queue.put_nowait(message)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel and wait, cancelling again if the task swallowed it: Python 3.11's ``wait_for`` loses a
    cancel that lands as its inner future finishes, and the keeper would then sleep and loop forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s failed", task.get_name(), exc_info=task.exception())


def printer_event(printer: str | None, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A change message carrying an OctoPrint event; ``printer`` None means every printer's clients."""
    return {"type": "event", "printer": printer, "event": event, "payload": payload}
