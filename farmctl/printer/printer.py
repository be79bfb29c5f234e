"""One printer: connection handshake, state, temperatures, and streaming one job at a time.

The state is a small table-checked machine; every way a print can end goes through one exit
(``_finish``) that records why. A firmware ``start`` in the middle of a print ends it: the
printer lost its position and heaters, so farmctl never resumes blindly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from farmctl.errors import FarmctlError
from farmctl.job import FeedSpec, FeedState, JobProgress, JobSummary
from farmctl.job_check import check_job_aside
from farmctl.link import FeedSettled, LinkEvent, PortGone, SerialLink
from farmctl.link_ops import (
    DiscardPending, Emergency, EndFeed, HoldFeed, PackWithMeatPack, PollTemperatures, ReleaseFeed, SetOffsets,
    StartSession, Submit,
)
from farmctl.reactor import Reactor
from farmctl.profiles import DEFAULT_PROFILE, FirmwareProfile, get_profile, load_profiles, match_firmware
from farmctl.protocol import gcode
from farmctl.protocol.meatpack import firmware_unpacks
from farmctl.printer.commands import COMMAND_TAG, CommandWaiters, sendable
from farmctl.printer.prompts import PROMPT_ACTIONS, Prompt, PromptDraft
from farmctl.printer.sd_print import SdEnd, SdPrint
from farmctl.printer.states import ENDED, RUNNING, TRANSITIONS, JobOutcome, JobResult, PrinterState, PrintEvent
from farmctl.protocol.replies import (
    Capability, FatalError, FirmwareInfo, HostAction, Ok, SdStatus, Start, Temperatures, UnknownCommand,
)
from farmctl.protocol.sdnames import short_name
from farmctl.sd import CardState, SdCard, SdCommands, sd_commands
from farmctl.protocol.events import Acknowledged, NotResponding, SenderStats
from farmctl.terminal import Terminal

if TYPE_CHECKING:
    from farmctl.workers import SerialWorkers
    from farmctl.workers.remote_link import WorkerLink

__all__ = ["JobOutcome", "JobResult", "PrintEvent", "Printer", "PrinterState", "Prompt"]

HANDSHAKE_RETRY = 2.0
TEMPERATURE_INTERVAL = 2.0
TEMPERATURE_HISTORY = 900
"""Temperature reports kept for the dashboard's chart and OctoPrint's ``?history=true`` (30 minutes at one per 2 s)."""
COOLDOWN_COMMANDS = ("M104 S0", "M140 S0", "M107")


class Printer:
    """A printer on one port. All methods run on the event loop; none blocks it."""

    def __init__(self, name: str, port: str, baud: int | None = None, profile: str | None = None,
                 on_change: Callable[[Printer], None] | None = None, handshake_timeout: float = 15.0,
                 ping_pong: bool = False, on_print: Callable[[Printer, PrintEvent, str], None] | None = None,
                 on_prompt: Callable[[Printer], None] | None = None,
                 serving: Reactor | SerialWorkers | None = None,
                 meatpack: bool = False) -> None:
        self.name = name
        self.port = port
        self.ping_pong = ping_pong
        self.meatpack = meatpack
        """Pack lines with MeatPack when the firmware unpacks it (``Cap:MEATPACK``, or Prusa-Firmware, whose
        M115 does not tell). Off unless asked: see ``farmctl.protocol.meatpack`` for what a flush can do."""
        self.forced_profile = get_profile(profile) if profile else None
        self.profile: FirmwareProfile = self._driven(self.forced_profile or get_profile(DEFAULT_PROFILE))
        # Without a baud or a profile, try the common Marlin rate first, then Prusa's.
        self._bauds = [baud] if baud else [self.profile.baud] if profile else sorted(
            {p.baud for p in load_profiles().values()}, reverse=True)
        self.baud = self._bauds[0]
        self.state = PrinterState.OFFLINE
        self.error = ""
        self.firmware: dict[str, str] = {}
        self.capabilities: dict[str, bool] = {}
        self.temperatures: Temperatures | None = None
        self.temperature_history: deque[tuple[float, Temperatures]] = deque(maxlen=TEMPERATURE_HISTORY)
        self.progress: JobProgress | None = None
        self.temperature_offsets: dict[str, float] = {}
        """OctoPrint's offsets ("tool0", "bed": degrees), added to the targets in the files this printer prints."""
        self._z = gcode.ZHeight()  # followed by prints and commands alike; unknown again after a reset
        self.prompt: Prompt | None = None
        """The firmware's open question (filament change, purge more?), None when none is shown."""
        self._prompt_draft = PromptDraft()
        self.handshake_timeout = handshake_timeout
        self._on_change = on_change
        self._on_print = on_print
        self._on_prompt = on_prompt
        self._log = logging.LoggerAdapter(logging.getLogger("farmctl.printer"), {"printer": name})
        self.serving = serving
        """What serves this printer's port: a reactor, serial worker processes, or None: a thread of its own."""
        self._link: SerialLink | WorkerLink = (
            SerialLink(port, self.baud, self.profile, self._on_events, reactor=serving)
            if serving is None or isinstance(serving, Reactor)
            else serving.link(port, self.baud, self.profile, self._on_events))
        self._commands = CommandWaiters(self._link)
        self._feed: FeedSpec | None = None  # the print streamed from this host, while it runs
        self._job_done: asyncio.Future[JobResult] | None = None
        self._check: asyncio.Future[JobSummary] | None = None  # the file being checked while STARTING
        self._check_called_off = False
        self._poller: asyncio.Task[None] | None = None
        self._session_ready = asyncio.Event()
        self.sd = SdCard(lambda command: self.command(command, timeout=30))
        """The printer's SD card (known after connecting, when the firmware has SD support)."""
        self._sd_print: SdPrint | None = None  # the print from the card under way
        self._transferring = False

    # -- state ---------------------------------------------------------------------------------

    def _set_state(self, new: PrinterState, error: str = "") -> None:
        if new == self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"printer {self.name}: no transition {self.state.name} -> {new.name}")
        self._log.info("%s -> %s %s", self.state.value, new.value, error)
        self.state = new
        if error:
            self.error = error
        if self._on_change:
            self._on_change(self)

    def _emit(self, event: PrintEvent, reason: str = "") -> None:
        if self._on_print and not self._transferring:  # an upload to the card is no print
            self._on_print(self, event, reason)

    @property
    def sender_stats(self) -> SenderStats:
        return self._link.stats

    @property
    def terminal(self) -> Terminal:
        """The lines that crossed this printer's wire lately."""
        return self._link.terminal

    @property
    def current_z(self) -> float | None:
        """Z as the acknowledged lines leave it: a print's, a jog's, a script's; None until a move says."""
        return self._z.z

    def set_temperature_offsets(self, offsets: dict[str, float]) -> None:
        """Change some heaters' offsets; a print in progress uses them from its next temperature line."""
        merged = {**self.temperature_offsets, **offsets}
        self.temperature_offsets = {heater: value for heater, value in merged.items() if value}
        if self._feed is not None:
            self._link.apply(SetOffsets(tuple(self.temperature_offsets.items())))

    # -- connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the port and handshake: M110 N0 until ok, M115 to learn firmware and caps."""
        self._set_state(PrinterState.CONNECTING)
        self.error = ""
        for attempt, baud in enumerate(self._bauds, 1):
            self.baud = self._link.baud = baud
            try:
                await self._link.open()
                await self._handshake()
                break
            except FarmctlError as exc:
                await self._link.close()
                if attempt == len(self._bauds) or "no answer" not in exc.message:
                    self._set_state(PrinterState.ERROR, exc.message)
                    raise
        self._set_state(PrinterState.OPERATIONAL)
        self._poller = asyncio.create_task(self._poll_temperatures(), name=f"{self.name} temperatures")

    async def _handshake(self) -> None:
        deadline = time.monotonic() + self.handshake_timeout
        while True:
            self._restart_session()
            try:
                await asyncio.wait_for(self._session_ready.wait(), HANDSHAKE_RETRY)
                break
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise FarmctlError(f"{self.port}: no answer from the firmware at {self.baud} baud") from None
        await self.command("M115", timeout=10)
        if self.forced_profile is None:
            detected = self._driven(match_firmware(self.firmware.get("FIRMWARE_NAME", ""), self._link.advanced_ok_seen))
            if detected != self.profile:
                self.profile = detected
                self._link.replace_sender(detected)
                self._restart_session()
                await asyncio.wait_for(self._session_ready.wait(), HANDSHAKE_RETRY * 2)
        await self.command("M105", timeout=10)  # the first reading now, as OctoPrint polls on connecting:
        # clients read /api/printer's tool0 the moment the printer is Operational (octoprint-cli, Home Assistant)
        if self.capabilities.get("AUTOREPORT_TEMP"):
            await self.command("M155 S2", timeout=10)
        if self.capabilities.get("PROMPT_SUPPORT"):
            await self.command("M876 P1", timeout=10)  # the host shows prompts (Prusa-Firmware waits for this)
        if self.meatpack and firmware_unpacks(self.firmware.get("FIRMWARE_NAME", ""), self.capabilities):
            self._link.apply(PackWithMeatPack())
            self._log.info("lines go packed (MeatPack)")
        self.sd.forget()
        if self.capabilities.get("SDCARD", True):  # Marlin 2 names SDCARD; 1.1 and Prusa do not: ask them
            try:
                await self.sd.init(self._sd_commands.long_names)
            except FarmctlError as exc:
                self._log.info("SD card: %s", exc.message)
        else:
            self.sd.state = CardState.UNSUPPORTED

    @property
    def _sd_commands(self) -> SdCommands:
        return sd_commands(self.profile.name, self.capabilities)

    async def sd_init(self) -> None:
        """Mount the card (M21) and list it; says so when the firmware has no SD support."""
        await self.sd.init(self._sd_commands.long_names)

    async def sd_refresh(self) -> None:
        await self.sd.refresh(self._sd_commands.long_names)

    def _driven(self, profile: FirmwareProfile) -> FirmwareProfile:
        return profile.with_ping_pong() if self.ping_pong else profile

    def _restart_session(self) -> None:
        self._session_ready.clear()
        self._link.apply(StartSession())
        self._z.forget()  # a new session may follow a reset: position unknown

    async def disconnect(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._job_done is not None and not self._job_done.done():
            self._finish(JobOutcome.FAILED, "disconnected")
        await self._link.close()
        if self.state != PrinterState.OFFLINE:
            self._set_state(PrinterState.OFFLINE)

    # -- commands -------------------------------------------------------------------------------

    def sendable(self, text: str) -> str:
        """The command as it will be sent ("" for a comment), or FarmctlError 400 if the firmware would mangle it."""
        return sendable(text, self.profile.max_line_length)

    async def command(self, text: str, timeout: float | None = 30.0) -> None:
        """Send one command (ahead of job lines) and wait for its ok."""
        command = self.sendable(text)
        if not command:
            return
        if self.state in (PrinterState.OFFLINE, PrinterState.ERROR):
            raise FarmctlError(f"printer {self.name} is not operational", 409)
        await self._commands.send(command, timeout, bool(self.capabilities.get("EMERGENCY_PARSER")))

    def _submit_urgent(self, command: str) -> None:
        """Send a command ahead of job lines without waiting for its ok."""
        self._link.apply(Submit(command, urgent=True))

    async def _poll_temperatures(self) -> None:
        """M105 every few seconds unless the firmware reports on its own; never queue a second one."""
        while True:
            await asyncio.sleep(TEMPERATURE_INTERVAL)
            if self.capabilities.get("AUTOREPORT_TEMP") or self.state in (PrinterState.OFFLINE, PrinterState.ERROR):
                continue
            self._link.apply(PollTemperatures())

    # -- events ---------------------------------------------------------------------------------

    def _on_events(self, events: list[LinkEvent]) -> None:
        for event in events:
            self._on_event(event)

    def _on_event(self, event: LinkEvent) -> None:
        if isinstance(event, Acknowledged):
            self._on_ack(event)
        elif isinstance(event, FeedSettled):
            self._settle()
        elif isinstance(event, Ok):
            if event.temperatures is not None:
                self._record_temperatures(event.temperatures)
        elif isinstance(event, Temperatures):
            self._record_temperatures(event)
        elif isinstance(event, FirmwareInfo):
            self.firmware = event.fields
        elif isinstance(event, Capability):
            self.capabilities[event.name] = event.enabled
        elif isinstance(event, Start):
            self._on_firmware_start()
        elif isinstance(event, FatalError):
            self._fail(f"firmware error: {event.message}")
        elif isinstance(event, NotResponding):
            self._fail(f"the printer stopped answering ({event.seconds:.0f} s)")
        elif isinstance(event, HostAction):
            self._on_action(event)
        elif isinstance(event, (SdStatus, UnknownCommand)):
            self._on_sd(event)
        elif isinstance(event, PortGone):
            self._fail(f"port gone: {event.reason}")

    def _record_temperatures(self, report: Temperatures) -> None:
        self.temperatures = report
        self.temperature_history.append((time.time(), report))

    def _on_ack(self, event: Acknowledged) -> None:
        tag = event.tag
        if event.command == "M110 N0" and tag is None:
            self._session_ready.set()
        elif isinstance(tag, tuple) and tag[0] == COMMAND_TAG:
            self._z.follow(event.command)
            self._note_target(event.command)
            self._commands.acknowledged(tag[1])

    def _note_target(self, command: str) -> None:
        """A target the firmware took shows at once, as OctoPrint shows it, not at the next report."""
        found = gcode.heater_target(command)
        if found is None or self.temperatures is None:
            return
        heater, target = found
        sensor = "B" if heater == "bed" else f"T{heater.removeprefix('tool')}"
        if sensor == "T0" and self.temperatures.get("T0") is None:
            sensor = "T"  # a single hotend reports as plain T
        self.temperatures = self.temperatures.with_target(sensor, target)

    def _on_firmware_start(self) -> None:
        """A reboot we did not ask for: a print in progress is lost; an idle printer is greeted again."""
        if self.state in (PrinterState.PRINTING, PrinterState.PAUSING, PrinterState.PAUSED, PrinterState.CANCELLING):
            self._fail("the firmware reset during the print; the print is lost and will not be resumed")
        elif self.state in (PrinterState.OPERATIONAL, PrinterState.STARTING):  # nothing of a print sent yet
            self._fail_waiters("the firmware reset")
            self._restart_session()
        elif self.state == PrinterState.CONNECTING:
            self._restart_session()  # the reset that opening a UART-bridge port causes

    def _on_action(self, action: HostAction) -> None:
        name = action.name
        if name in ("pause", "paused", "resume", "resumed", "cancel") and not self.job_running:
            return  # the firmware asks (a filament runout, say) with no print under way: nothing to do
        if name in ("pause", "paused"):
            self.pause()
        elif name in ("resume", "resumed"):
            self.resume()
        elif name == "cancel":
            self.cancel()
        elif name in PROMPT_ACTIONS:
            self._set_prompt(self._prompt_draft.heard(name, action.argument, self.prompt))

    def _set_prompt(self, prompt: Prompt | None) -> None:
        if prompt != self.prompt:
            self.prompt = prompt
            if self._on_prompt:
                self._on_prompt(self)

    def answer_prompt(self, choice: int) -> None:
        """Answer the open prompt with its choice number ``choice`` (M876 S<choice>); 409 if none is open.

        The firmware is usually busy in the command that asked (M600 waits for the person), so the
        answer goes through the emergency parser when there is one, else it waits its turn in the queue.
        """
        prompt = self.prompt
        if prompt is None or self.state in (PrinterState.OFFLINE, PrinterState.ERROR):
            raise FarmctlError(f"printer {self.name} is not asking anything", 409)
        prompt.check_choice(choice)
        self._set_prompt(None)
        answer = f"M876 S{choice}"
        self._link.apply(Emergency(answer) if self.capabilities.get("EMERGENCY_PARSER") else Submit(answer, urgent=True))

    def _fail(self, reason: str) -> None:
        if self._job_done is not None and not self._job_done.done():
            self._finish(JobOutcome.FAILED, reason)
        self._fail_waiters(reason)
        self._log.info("error: %s", reason)  # INFO: the file has it; a command line says it once itself
        if self.state != PrinterState.ERROR:
            self._set_state(PrinterState.ERROR, reason)

    def _fail_waiters(self, reason: str) -> None:
        self._commands.fail_all(reason)

    # -- printing -------------------------------------------------------------------------------

    def check_ready(self) -> None:
        """409 unless a print may start now."""
        if self.state != PrinterState.OPERATIONAL:
            raise FarmctlError(f"printer {self.name} is {self.state.value.lower()}, not ready to print", 409)

    async def print_file(self, path: Path) -> JobResult:
        """Stream one file; returns when every line is acknowledged, or the print ended otherwise."""
        return await (await self.start_print(path))

    async def start_print(self, path: Path, checked: JobSummary | None = None) -> asyncio.Future[JobResult]:
        """Check the file, start streaming it and return the print's result to await.

        The check reads the whole file (seconds for 100 MB), so it runs aside (``check_job_aside``) while
        the printer is STARTING, and the event loop and other printers go on meanwhile; a cancel stops it.
        Raises FarmctlError (409 when not ready) if the print does not start; the printer is then as it was.
        ``checked``: the caller's own check of the file, trusted while the file is unchanged (``farmctl
        print`` checks before it opens the port).
        """
        self.check_ready()
        max_length = self.profile.max_line_length
        check = self._check = asyncio.ensure_future(check_job_aside(path, max_length, checked))
        self._check_called_off = False
        self._set_state(PrinterState.STARTING)
        try:
            summary = await check
        except BaseException as exc:
            check.cancel()
            if self.state == PrinterState.STARTING:
                self._set_state(PrinterState.OPERATIONAL)
            if isinstance(exc, asyncio.CancelledError) and self._check_called_off:
                raise FarmctlError(f"{path.name}: cancelled while it was being checked", 409) from None
            raise
        finally:
            self._check = None
        if self.state != PrinterState.STARTING:  # disconnected or failed during the check
            raise FarmctlError(f"the print of {path.name} did not start: the printer {self.name} is "
                               f"{self.state.value.lower()}", 409)
        self._feed = FeedSpec(summary, max_length, tuple(self.temperature_offsets.items()))
        done = self._job_done = asyncio.get_running_loop().create_future()
        self.progress = self._link.start_feed(self._feed, self._z)
        self._set_state(PrinterState.PRINTING)
        self._log.info("print of %s started", path.name)
        self._emit(PrintEvent.STARTED)
        return done

    def _settle(self) -> None:
        """The feed stopped and every line sent is confirmed: paused, cancelled or done."""
        settled = self._link.feed_settled
        if settled is None or self._job_done is None or self._job_done.done():
            return  # moving again since the link said so, or the print already ended
        if self.state in (PrinterState.PAUSING, PrinterState.PRINTING) and settled is FeedState.HELD:
            self._set_state(PrinterState.PAUSED)
            self._emit(PrintEvent.PAUSED)
        elif self.state == PrinterState.CANCELLING:
            self._finish(JobOutcome.CANCELLED, "cancelled")
        elif self.state in (PrinterState.PRINTING, PrinterState.TRANSFERRING) and settled is FeedState.ENDED:
            self._finish(JobOutcome.DONE, "every line acknowledged")
        elif settled is FeedState.FAILED and self._feed is not None:
            reason = self._link.feed_failure
            # the printer is fine: stop heating, as a cancel does (urgent: the feed's end drops what is pending)
            self._link.apply(*(Submit(command, urgent=True) for command in COOLDOWN_COMMANDS))
            self._finish(JobOutcome.FAILED, reason)
            self._set_state(PrinterState.OPERATIONAL)

    # -- printing from the SD card ------------------------------------------------------------------

    async def print_sd(self, name: str) -> JobResult:
        """Print a file from the printer's own card; returns when the firmware says it is done, or the
        print ended otherwise."""
        return await (await self.start_sd_print(name))

    async def start_sd_print(self, name: str) -> asyncio.Future[JobResult]:
        """Select a file of the card (M23) and start it (M24); the print's result to await. Progress
        comes from M27 (by itself with AUTOREPORT_SD_STATUS). Raises FarmctlError (409 when not ready,
        404 when the card has no such file) if it does not start; the printer is then as it was."""
        self.check_ready()
        listed = self.sd.find(name)
        size = await self.sd.select(listed.name if listed else name)
        self.check_ready()
        display = listed.display if listed else name
        self.progress = JobProgress(Path(display), size, 0, sd=True)
        sd_print = self._sd_print = SdPrint(listed.name if listed else name, self._sd_commands, self._submit_urgent)
        self._job_done = done = asyncio.get_running_loop().create_future()
        self._set_state(PrinterState.PRINTING)
        self._emit(PrintEvent.STARTED)
        try:
            await sd_print.start(self.command, self.name)
        except FarmctlError as exc:
            if not done.done():
                self._finish(JobOutcome.FAILED, f"the SD print did not start: {exc.message}")
                if self.state == PrinterState.PRINTING:
                    self._set_state(PrinterState.OPERATIONAL)
        return done

    def _on_sd(self, event: SdStatus | UnknownCommand) -> None:
        self.sd.heard(event)
        sd_print = self._sd_print
        if sd_print is None or not isinstance(event, SdStatus) or self._job_done is None or self._job_done.done():
            return
        ended = sd_print.heard(event, self.progress, paused=self.state == PrinterState.PAUSED)
        if ended is SdEnd.DONE:
            self._finish(JobOutcome.DONE, ended.value)
        elif ended is SdEnd.STOPPED:
            self._set_state(PrinterState.CANCELLING)
            self._finish(JobOutcome.CANCELLED, ended.value)

    async def upload_sd(self, path: Path, name: str) -> str:
        """Write a file to the card (M28 <8.3 name>, its lines, M29) through the same numbered,
        checksummed stream as a print; the 8.3 name it was saved under."""
        if self.state != PrinterState.OPERATIONAL:
            raise FarmctlError(f"printer {self.name} is {self.state.value.lower()}, not ready for an upload", 409)
        if not self.sd.ready:
            raise FarmctlError("the printer's SD card is not ready", 409)
        target = short_name(name, {f.name for f in self.sd.files if (f.long_name or f.name) != name})
        max_length = self.profile.max_line_length
        summary = await check_job_aside(path, max_length)
        self._feed = FeedSpec(summary, max_length, prefix=(f"M28 {target}",), suffix=("M29",))
        self._transferring = True
        self._job_done = done = asyncio.get_running_loop().create_future()
        self._link.start_feed(self._feed, gcode.ZHeight())
        self._set_state(PrinterState.TRANSFERRING)
        try:
            result = await done
        finally:
            self._transferring = False
        if result.outcome != JobOutcome.DONE:
            raise FarmctlError(f"the upload to the SD card failed: {result.reason}", 409)
        await self.sd.refresh(self._sd_commands.long_names)
        return target

    @property
    def job_running(self) -> bool:
        """A print is under way, streamed or from the SD card: printing, pausing or paused."""
        return self.state in RUNNING and (self._feed is not None or self._sd_print is not None)

    def _require_job(self) -> None:
        if not self.job_running:
            raise FarmctlError(f"printer {self.name}: no print job is running", 409)

    def pause(self) -> None:
        """Stop feeding job lines (or M25 an SD print); PAUSED once the lines already sent are done.
        409 with no print."""
        self._require_job()
        if self.state != PrinterState.PRINTING:
            return  # pausing or paused already
        if self._sd_print is not None:
            self._submit_urgent("M25")
            self._set_state(PrinterState.PAUSED)
            self._emit(PrintEvent.PAUSED)
            return
        self._link.apply(HoldFeed())
        self._set_state(PrinterState.PAUSING)

    def resume(self) -> None:
        """Feed job lines again after a pause (M24 for an SD print); nothing to do while printing.
        409 with no print."""
        self._require_job()
        if self.state == PrinterState.PAUSED and self._sd_print is not None:
            self._submit_urgent("M24")
            self._set_state(PrinterState.PRINTING)
            self._emit(PrintEvent.RESUMED)
        elif self.state in (PrinterState.PAUSED, PrinterState.PAUSING) and self._feed is not None:
            self._link.apply(ReleaseFeed())
            self._set_state(PrinterState.PRINTING)
            self._emit(PrintEvent.RESUMED)

    def toggle_pause(self) -> None:
        """OctoPrint's pause toggle: pause a printing job, resume a pausing or paused one."""
        self._require_job()
        if self.state == PrinterState.PRINTING:
            self.pause()
        else:
            self.resume()

    def cancel(self) -> None:
        """Drop what is not sent yet, stop moves when the firmware allows it, turn heaters off.

        A print still being checked (STARTING) is called off before it sends anything. 409 with no print;
        the print ends (CANCELLED) once the firmware confirmed what it had."""
        if self.state == PrinterState.STARTING and self._check is not None:
            self._check_called_off = True
            self._check.cancel()
            self._set_state(PrinterState.OPERATIONAL)
            return
        self._require_job()
        if self._sd_print is not None:  # the firmware prints: tell it to stop, as its profile says
            for command in (*self._sd_print.commands.cancel, *COOLDOWN_COMMANDS):
                self._submit_urgent(command)
            self._set_state(PrinterState.CANCELLING)
            self._finish(JobOutcome.CANCELLED, "cancelled")
            return
        stop_moves = (Emergency("M410"),) if self.capabilities.get("EMERGENCY_PARSER") else ()
        self._link.apply(EndFeed(), DiscardPending(), *stop_moves, *(Submit(command) for command in COOLDOWN_COMMANDS))
        self._set_state(PrinterState.CANCELLING)

    async def cancel_paused(self, timeout: float) -> JobResult:
        """OctoPrint's restart, first half: cancel the paused print and wait for its end, so the file
        can start again from the top. 409 unless paused, or if the print has not ended in ``timeout``."""
        if self.state != PrinterState.PAUSED or self._job_done is None:
            raise FarmctlError(f"printer {self.name}: only a paused print can be restarted", 409)
        done = self._job_done
        self.cancel()
        try:
            result = await asyncio.wait_for(asyncio.shield(done), timeout)
        except asyncio.TimeoutError:
            raise FarmctlError(f"printer {self.name}: the cancelled print did not end within {timeout:.0f} s; "
                               f"the printer is {self.state.value.lower()}", 409) from None
        if self.state != PrinterState.OPERATIONAL:
            raise FarmctlError(f"printer {self.name}: the print ended but the printer is "
                               f"{self.state.value.lower()}", 409)
        return result

    def _finish(self, outcome: JobOutcome, reason: str) -> None:
        """The single exit of a print."""
        assert self._job_done is not None
        progress, now = self.progress, time.monotonic()
        if progress is not None:
            progress.ended = now
        result = JobResult(outcome, reason, progress.acknowledged if progress else 0,
                           progress.elapsed(now) if progress else 0.0)
        self._link.stop_feed()
        self._feed = None
        if self._sd_print is not None:
            self._sd_print.stop_reports(connected=self.state not in (PrinterState.OFFLINE, PrinterState.ERROR))
            self._sd_print = None
        self._job_done.set_result(result)
        self._log.info("print of %s ended: %s (%s), %d commands acknowledged in %.0f s",
                       progress.path.name if progress else "?", outcome.value, reason,
                       result.commands_acknowledged, result.seconds)
        self._emit(ENDED[outcome], reason)
        if outcome != JobOutcome.FAILED and self.state != PrinterState.OPERATIONAL:
            self._set_state(PrinterState.OPERATIONAL)
