"""The farm: one store, one uploads folder, and every configured printer with its queue driver.

Printers on ``port = "sim"`` get a simulated Marlin of the configured firmware profile, so the
whole farm runs on any machine. A printer whose port fails is retried every few seconds; a
failure on one printer never touches another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farmctl.auth import AuthService
from farmctl.auth.peers import PeerAuth
from farmctl.automation import Event as HookEvent
from farmctl.farm.attention import WorkLookout
from farmctl.farm.config import FarmConfig, PrinterConfig
from farmctl.farm import fleet
from farmctl.farm.driver import Loadout, QueueDriver
from farmctl.farm.one_view import OneView
from farmctl.farm.peer_client import PeerClient
from farmctl.farm.peer_watch import PeerWatch
from farmctl.farm.shared_uploads import SharedUploads
from farmctl.farm.config import valid_printer_profile, MAX_PRINTER_PROFILE
from farmctl.files import FileInfo, UploadFolder
from farmctl.data_folder import make_writable
from farmctl.errors import FarmctlError
from farmctl.printer import JobResult, Printer, PrinterState, PrintEvent
from farmctl.queue import NodeClock, QueueModel, QueueSnapshot
from farmctl.queue.validate import as_loaded_materials
from farmctl.reactor import Reactor
from farmctl.sim import SdCard, SimulatedPrinter
from farmctl.store import PresetRecord, SetRecord, Store
from farmctl.workers import SerialWorkers, default_count

log = logging.getLogger(__name__)

RECONNECT_EVERY = 5.0
ACCESS_RECHECK = 5.0
"""Seconds between looks for keys revoked by another process, whose logins must end too."""
MAX_DISPLAY_NAME = 100
AREAS = ("queue", "history", "files")
"""What the farm counts changes of, besides printers (see :meth:`Farm.changed`)."""
PROMPT_PLUGIN = "action_command_prompt"
"""The OctoPrint plugin whose API and push messages carry firmware prompts (bundled with OctoPrint)."""


@dataclass(frozen=True, slots=True)
class MissingFiles:
    """Set paths whose file is missing: ``local`` from the uploads folder, ``card`` from the SD card."""

    local: frozenset[str] = frozenset()
    card: frozenset[str] = frozenset()

    def __contains__(self, item: object) -> bool:
        sd, path = item  # type: ignore[misc]
        return path in (self.card if sd else self.local)


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
    selected_sd: str | None = None
    """Or the file of its SD card they selected (its 8.3 name)."""
    stay_offline: bool = False
    """An operator disconnected the printer: the keeper does not reconnect it until asked."""
    appearance_name: str | None = None
    """The name OctoPrint clients gave it (appearance.name, kept in the store); None: ``name``."""
    tags: tuple[str, ...] = ()
    """Its groups: farm.toml's ``tags`` until the page sets others (kept in the store)."""
    maintenance: str | None = None
    """In maintenance, with this note: out of every queue until an operator ends it (kept in the store)."""
    materials: tuple[str | None, ...] = ()
    """The material loaded in each tool (Continuous Print's keys), None for an empty tool."""
    profile_override: str | None = None
    """The printer profile name set through the API (kept in the store); None: farm.toml's."""

    def select(self, upload: str | None = None, *, sd: str | None = None) -> None:
        """What OctoPrint clients see selected for the next job: an upload, a file of the card, or nothing."""
        self.selected, self.selected_sd = upload, sd

    @property
    def printer_profile(self) -> str | None:
        """The name a set's ``profiles`` list is matched against."""
        return self.profile_override or self.config.printer_profile

    @property
    def loadout(self) -> Loadout:
        """No material recorded on any tool: the printer tracks none, so any set may print on it."""
        tracked = self.materials if any(m is not None for m in self.materials) else None
        return Loadout(self.printer_profile, tracked)

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
        self.work_lookout = WorkLookout(self)
        """Which idle, unmanaged printers' queues have work (the farm view's hint), shared by every page."""
        self._prints: set[asyncio.Future[JobResult]] = set()
        self._access_watch: asyncio.Task[None] | None = None
        workers = default_count(len(config.printers)) if config.serial_workers is None else config.serial_workers
        self.serving: Reactor | SerialWorkers = (SerialWorkers(workers, config.serial_gather) if workers
                                                 else Reactor(gather=config.serial_gather))
        """Serves every printer's port: one reactor thread (bench/designs.py: less CPU per line than a thread
        each), or ``serial_workers`` processes, each a reactor for its share, so serial work uses several cores."""
        self._heartbeat: asyncio.Task[None] | None = None
        self.clock = time.time
        self.peer_auth = PeerAuth(config.node)
        """Signs this node's calls to the others and checks theirs (the secret is in the store)."""
        self.peers = PeerClient(self.peer_auth, clock=self.clock)
        self.one_view = OneView(config.node)
        """The other nodes' printers, for this node's page (empty without a shared database)."""
        self.peer_watch = PeerWatch(self.one_view, self.peers, clock=self.clock)
        """Keeps ``one_view`` current while a page looks (runs only with a shared database)."""
        """Signed calls to the other nodes (``farm.model.nodes.live()`` lists them with their URLs)."""

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
        await asyncio.to_thread(make_writable, self.data_dir, self.uploads_dir)
        self._uploads_real = self.uploads_dir.resolve()
        where = self.config.database_in(self.data_dir)
        try:
            self.store = await Store.open(where)
        except sqlite3.Error as exc:
            raise FarmctlError(f"cannot open the queue database {where}: {exc}", 500) from exc
        self.model = QueueModel.over(self.store, node=NodeClock(self.config.node, self.config.node_timeout,
                                                                 self.config.node_url))
        await self.peer_auth.load(self.store, self.clock())
        self.model.listen(self._queue_changed)
        self.auth = AuthService(self.store)
        self.uploads = UploadFolder(self.uploads_dir, self.max_upload)
        self.shared_uploads = SharedUploads(
            self.store, self.uploads, self.uploads_dir, self.config.node, self.peers, self.model.nodes,
            shared=self.config.shared_uploads, max_bytes=self.max_upload, clock=self.clock,
            on_fetched=lambda path: self.files_changed("FileAdded", path))
        for name in await self.uploads.remove_abandoned():
            log.warning("removed %s, left by an upload that a restart cut off", name)
        for run in await self.model.nodes.start():
            log.warning("run %d (%s on %s) was left open by %s: settled aborted, its copy is owed",
                        run.id, run.set_path, run.printer, "a restart" if run.node in (None, self.config.node)
                        else f"node {run.node}")
        async with self.store.transaction(write=False) as tx:
            names = await tx.printers.names()
            offsets = await tx.printers.temperature_offsets()
            materials = await tx.printers.materials()
            profiles = await tx.printers.profiles()
        for config in self.config.printers:
            entry = self.printers[config.name] = await self._add_printer(config)
            entry.appearance_name = names.get(config.name)
            entry.printer.set_temperature_offsets(offsets.get(config.name, {}))
            loaded = materials.get(config.name, {})
            entry.materials = tuple(loaded.get(tool) for tool in range(config.extruders))
            entry.profile_override = profiles.get(config.name)
            entry.driver.set_loadout(entry.loadout)
        if isinstance(self.serving, SerialWorkers):
            await self.serving.start()  # before HTTP answers: their start-up is not a client's wait
        await fleet.restore(self)
        self._access_watch = asyncio.create_task(self._watch_access(), name="revoked keys")
        if self.config.database is not None:  # a shared queue: say this node lives, watch the others
            self._heartbeat = asyncio.create_task(self._beat(), name="node heartbeat")
            await self.model.nodes.set_printers([(e.name, e.display_name) for e in self.printers.values()])
            self.peer_watch.start(self.model)

    async def _beat(self) -> None:
        every = self.model.nodes.node.beat_every
        while True:
            await asyncio.sleep(every)
            try:
                for run in await self.model.nodes.beat():
                    log.warning("node %s stopped beating during run %d (%s on %s): settled aborted, its copy "
                                "is owed", run.node, run.id, run.set_path, run.printer)
            except Exception:  # a database that is away for a while must not end the heartbeat
                log.exception("the node heartbeat failed")

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
                                   time_scale=self.sim_options.time_scale, sd=SdCard()).start()
            port = sim.path
        printer = Printer(config.name, port, config.baud, config.profile, on_change=self._state_changed,
                          on_print=self._print_event, on_prompt=self._prompt_changed, serving=self.serving)
        driver = QueueDriver(config.name, printer, self.model, self.store, self.uploads_dir,
                             Loadout(config.printer_profile), on_change=self.notify,
                             ensure_file=self.shared_uploads.ensure,
                             on_select=lambda path, sd: self._select(config.name, path, sd),
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
        for watcher in (self._access_watch, self._heartbeat):
            if watcher is not None:
                await _cancel(watcher)
        for entry in self.printers.values():
            if entry.keeper is not None:
                await _cancel(entry.keeper)
            await entry.driver.stop()
            await entry.printer.disconnect()
            if entry.sim is not None:
                entry.sim.stop()
        if self._prints:  # a disconnect ends every print, so these finish at once
            await asyncio.wait(self._prints, timeout=5.0)
        if isinstance(self.serving, SerialWorkers):
            await self.serving.close()
        else:
            self.serving.close()
        await self.peer_watch.stop()
        await self.peers.close()
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

    async def set_materials(self, entry: FarmPrinter, materials: Any) -> None:
        """Say what is loaded in each tool (``["PLA_red_#ff0000", null]``). Kept across restarts; a set
        that waited for this material may start at once."""
        loaded = as_loaded_materials(materials, entry.config.extruders)
        async with self.store.transaction() as tx:
            await tx.printers.set_materials(entry.name, dict(enumerate(loaded)), time.time())
        entry.materials = loaded
        entry.driver.set_loadout(entry.loadout)
        log.info("printer %s: materials loaded now %s", entry.name, list(loaded))
        self.notify()

    async def set_printer_profile(self, entry: FarmPrinter, profile: Any) -> None:
        """Set the printer profile name sets are matched against (over farm.toml's), kept across restarts."""
        if not isinstance(profile, str) or not valid_printer_profile(profile):
            raise FarmctlError(f"a printer profile must be 1 to {MAX_PRINTER_PROFILE} printable characters, "
                               f"not {profile!r}")
        async with self.store.transaction() as tx:
            await tx.printers.set_profile(entry.name, profile, time.time())
        entry.profile_override = profile
        entry.driver.set_loadout(entry.loadout)
        log.info("printer %s: printer profile now %r", entry.name, profile)
        self.notify()

    def default_printer(self) -> FarmPrinter | None:
        """The printer the main port's OctoPrint paths address: the only one, or the one marked default."""
        if len(self.printers) == 1:
            return next(iter(self.printers.values()))
        marked = [p for p in self.printers.values() if p.config.default]
        return marked[0] if marked else None

    async def start_print(self, entry: FarmPrinter, path: Path) -> asyncio.Future[JobResult]:
        """Start printing ``path`` on one printer; returns once the print is under way, with its result
        to await. Raises the printer's FarmctlError (409 when it is not ready, 400 for a bad file)."""
        done = await entry.printer.start_print(path)
        self._prints.add(done)
        done.add_done_callback(self._prints.discard)
        return done

    async def start_sd_print(self, entry: FarmPrinter, name: str) -> asyncio.Future[JobResult]:
        """Start printing a file of the printer's SD card; returns once it is under way, with its result
        to await. Raises the printer's FarmctlError (409 when it is not ready, 404 when the card lacks it)."""
        entry.select(sd=name)
        done = await entry.printer.start_sd_print(name)
        self._prints.add(done)
        done.add_done_callback(self._prints.discard)
        return done

    def _select(self, name: str, path: str, sd: bool = False) -> None:
        """The queue prints ``path`` on printer ``name``: select it, as Continuous Print does in OctoPrint,
        so /api/job keeps showing the file once the print is over."""
        entry = self.printers[name]
        entry.select(sd=path) if sd else entry.select(path)

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
        progress = printer.progress
        payload: dict[str, Any] = {"origin": "sdcard" if progress is not None and progress.sd else "local"}
        if progress is not None and progress.sd:
            payload.update(name=progress.path.name, path=(entry.selected_sd if entry else None) or progress.path.name,
                           size=progress.size)
        elif progress is not None:
            payload.update(name=progress.path.name, path=self.upload_name(progress.path) or progress.path.name,
                           size=progress.size)
            if event in (PrintEvent.DONE, PrintEvent.FAILED, PrintEvent.CANCELLED):
                payload["time"] = round(progress.elapsed(time.monotonic()), 3)
        if reason and event == PrintEvent.FAILED:
            payload["reason"] = reason
        self.notify(printer_event(printer.name, event.value, payload))

    async def queue_view(self, printer: str | None = None) -> tuple[QueueSnapshot, MissingFiles]:
        """The queue now, and which of its sets' files are missing (as ``printer`` sees them, or the farm)."""
        snapshot = await self.model.state.snapshot()
        return snapshot, await self.missing_files(
            [s for q in snapshot.queues for j in q.jobs for s in j.sets], printer)

    async def missing_files(self, sets: Iterable[SetRecord], printer: str | None = None) -> MissingFiles:
        """Which of these sets' files are not there (their ``missing_file``): a local file not in the
        uploads folder; an SD file not on ``printer``'s card (or, for the farm, on no printer's card)."""
        items = list(sets)
        local = await self.uploads.missing(sorted({s.path for s in items if not s.sd}))
        if local:  # a file another node holds is fetched when its set prints
            local -= await self.shared_uploads.recorded(sorted(local))
        cards = [e.printer.sd for e in self.printers.values() if printer is None or e.name == printer]
        card = frozenset(s.path for s in items if s.sd and not any(c.ready and c.find(s.path) for c in cards))
        return MissingFiles(local, card)

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

    async def file_stored(self, info: FileInfo) -> None:
        """A file or folder arrived in the uploads (an upload, copy, move or export): the other nodes
        learn its hash (a failure to record loses only that, never the file), and clients hear of it."""
        try:
            await self.shared_uploads.stored(info)
        except Exception:  # the file is saved: a store that is away must not turn that into an error
            log.exception("the hash of %s was not recorded; other nodes cannot fetch it", info.path)
        self.files_changed("FileAdded", info.path)

    async def files_written(self, paths: Iterable[str]) -> None:
        """Files farmctl itself wrote into the uploads (a .gjob export; absolute paths), as uploads."""
        for path in paths:
            name = self.upload_name(Path(path))
            if name is not None:
                await self.file_stored(await self.uploads.info(name))

    async def file_removed(self, path: str) -> None:
        """A file or folder left the uploads: this node no longer offers it; clients hear of it."""
        try:
            await self.shared_uploads.removed(path)
        except Exception:
            log.exception("the record of %s was not removed", path)
        self.files_changed("FileRemoved", path)

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
