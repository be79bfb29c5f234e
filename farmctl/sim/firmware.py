"""A Marlin firmware model with no I/O and no clock of its own.

Bytes go in through ``receive(data, now)`` at the time they arrive at the UART, time moves on
through ``advance(now)``, and replies come out of ``take_output()`` stamped with the time the
firmware printed them.  The driver asks ``next_wakeup()`` when something will happen on its
own (a move finishing, a keepalive, a temperature report).

What the model keeps from Marlin 2.x, because hosts break on exactly these details:

* the RX ring holds ``rx_buffer - 1`` bytes and drops what arrives when it is full; on a
  native-USB board (``back_pressure``) the bytes wait on the USB side instead, unseen even by the
  emergency parser, until the ring has room;
* lines are read from the ring only while the command queue has a free slot and no command
  is blocking, so a host that over-sends overflows the ring;
* a line error flushes the whole ring; the tail of a line cut in half arrives later as a new
  unnumbered line (executed by Marlin 2 if it starts with G/M/T);
* ``ok`` is sent after the command executed: a G1 when it entered the planner, G28/M109/M400
  when they finished;
* the emergency parser acts on M108/M112/M410/M876 as the bytes arrive;
* with MeatPack (``Cap:MEATPACK``, and Prusa-Firmware) the RX ring holds packed bytes, unpacked
  as the line reader takes them: a flush empties the ring but not the unpacker.

Durations of the simulated machine are multiplied by ``time_scale`` (0 makes them instant).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace

from farmctl.profiles import FirmwareProfile
from farmctl.sim.gcodes import HANDLERS, Handler
from farmctl.sim.identity import Family, Identity, identity_for
from farmctl.sim.meatpack import Unpacker
from farmctl.sim.outcome import Reply, Wait, WaitKind, command_code
from farmctl.protocol.replies import LineErrorKind
from farmctl.sim.parser import (
    EOL, Accepted, Emergency, EmergencyParser, LineAssembler, Rejected, check_line, error_reply, next_eol,
)
from farmctl.sim.physics import Heater, Motion, Physics, Planner
from farmctl.sim.records import Executed, Stats
from farmctl.sim.sdcard import SdCard


@dataclass(slots=True)
class _Running:
    accepted: Accepted
    started: float
    wait: Wait
    next_keepalive: float
    next_report: float


class MarlinFirmware:
    """One printer's firmware.  Call ``boot(now)`` first to get the start-up banner."""

    def __init__(self, profile: FirmwareProfile, caps: Mapping[str, bool] | None = None,
                 time_scale: float = 1.0, physics: Physics | None = None, sd: SdCard | None = None) -> None:
        self.profile = profile
        self.sd = sd
        """The SD card slot (None: a firmware built without SDSUPPORT)."""
        self.identity: Identity = identity_for(profile, caps, sd_support=sd is not None)
        self.time_scale = time_scale
        self.physics = physics or Physics()
        self._handlers: Mapping[str, Handler] = HANDLERS
        self.stats = Stats()
        self.executed: list[Executed] = []
        self.prompt_responses: list[int] = []
        self.trip_after: int | None = None  # stop after this many commands (fault injection)
        self._ring_capacity = profile.rx_buffer - 1
        self._out: list[tuple[float, bytes]] = []
        self._clear(0.0)
        self.hotend = Heater(self.physics.hotend_heat_rate, self.physics.cool_rate)
        self.bed = Heater(self.physics.bed_heat_rate, self.physics.cool_rate)

    # -- state that survives nothing but a power cycle is set in _clear ---------------------

    def _clear(self, now: float) -> None:
        self.now = now
        self.last_n = 0
        self.halted = False
        self.tripped = False
        self.keepalive = self.profile.keepalive
        self.autoreport_interval = 0.0
        self.motion = Motion(feedrate=self.physics.default_feedrate)
        self.planner = Planner(self.profile.planner_blocks)
        self._ring = bytearray()
        self._ring_overflowed = False
        self._held = bytearray()  # back_pressure: bytes the USB side holds back while the ring is full
        self._last_rx_at = now
        self._assembler = LineAssembler(self.profile.max_line_length)
        self._unpacker: Unpacker | None = None
        self._framer: Unpacker | None = None  # unpacks arriving bytes only to see where lines end
        if self.identity.has("MEATPACK") or self.identity.family is Family.PRUSA:
            prefix = " [MP] " if self.identity.family is Family.PRUSA else "[MP] "
            self._unpacker, self._framer = Unpacker(prefix), Unpacker(prefix)
        self._unpacked = b""  # characters unpacked from the ring and not yet read
        self._emergency = EmergencyParser() if self.identity.has("EMERGENCY_PARSER") else None
        self._queue: deque[Accepted] = deque()
        self._running: _Running | None = None
        self._next_autoreport = math.inf
        self._next_sd_report = math.inf
        self.sd_report_interval = 0.0
        if self.sd is not None:  # a reset ends any SD print or write; the card is mounted again at boot
            self.sd.close()
            self.sd.writing = None
            self.sd.mounted = self.sd.inserted
        self._starved_before = getattr(self, "_starved_total", 0.0)

    # -- time ---------------------------------------------------------------------------------

    def wall(self, firmware_seconds: float) -> float:
        """Driver-clock seconds for a duration of the simulated machine."""
        if self.time_scale == 0 or firmware_seconds == 0:
            return 0.0 if firmware_seconds != math.inf else math.inf
        return firmware_seconds * self.time_scale

    def _elapsed(self, wall_seconds: float) -> float:
        return math.inf if self.time_scale == 0 else wall_seconds / self.time_scale

    def _period(self, firmware_seconds: float) -> float:
        """Period of a repeating report; instant simulations still report in real seconds."""
        return firmware_seconds * (self.time_scale if self.time_scale > 0 else 1.0)

    def update_heaters(self, now: float) -> None:
        for heater in (self.hotend, self.bed):
            if now > heater.updated:
                heater.update(now, self._elapsed(now - heater.updated))

    # -- public interface -----------------------------------------------------------------

    def boot(self, now: float) -> None:
        """Power on: print the banner with empty buffers and line numbering at 0."""
        self._clear(now)
        self.hotend.target = self.bed.target = 0.0
        for line in self.identity.boot():
            self.emit(line, now)

    def reset(self, now: float) -> None:
        """A reset in the middle of things (watchdog, DTR): everything in flight is lost."""
        self._starved_total = self._starved_now()
        self.stats.resets += 1
        self.update_heaters(now)
        self.boot(now)

    def receive(self, data: bytes, now: float, byte_time: float = 0.0) -> None:
        """Bytes arriving at the UART; byte ``i`` arrives at ``now + i * byte_time``.

        Handled in runs that end at an end of line or at the next internal event, so the
        result is the same as feeding one byte at a time, at a fraction of the cost.
        """
        index, size = 0, len(data)
        ends = self._packed_line_ends(data)
        while index < size:
            at = now + index * byte_time
            wake = self.next_wakeup()
            if wake is not None and at >= wake:
                self.advance(at)
                continue
            end = next_eol(data, index) if ends is None else next(e for e in ends if e > index)
            if wake is not None and byte_time > 0:
                end = min(end, index + max(1, math.ceil((wake - at) / byte_time)))
            self._arrive(data[index:end], now + (end - 1) * byte_time)
            index = end

    def _packed_line_ends(self, data: bytes) -> list[int] | None:
        """Where packed lines end in ``data`` (and at its end), to hand the bytes over in runs
        that end there; None when this firmware has no MeatPack. Only for timing: lines are
        unpacked for real as the line reader takes them from the ring."""
        framer = self._framer
        if framer is None:
            return None
        ends = [i + 1 for i, byte in enumerate(data) if b"\n" in framer.feed(byte)]
        framer.take_reports()
        return ends + [len(data)]

    def _arrive(self, run: bytes, at: float) -> None:
        """A run of bytes with at most one end of line, at its end, all seen at ``at``."""
        self.now = max(self.now, at)
        if self.profile.back_pressure:  # the USB side takes it; the ring gets it (and counts it) as it has room
            if not (self.halted or self.tripped):
                self._held += run
                self._pump(at)
            return
        self.stats.bytes_received += len(run)
        if self.halted or self.tripped:
            return
        self._last_rx_at = at
        eol = run[-1] in EOL
        if not self._scan_emergency(run, eol, at):
            return
        ring, capacity = self._ring, self._ring_capacity
        while run:
            room = capacity - len(ring)
            if room <= 0:
                self._pump(at)  # Marlin reads the ring as fast as bytes come, when it reads at all
                room = capacity - len(ring)
                if room <= 0:
                    self.stats.bytes_dropped += len(run)
                    self._ring_overflowed = True
                    return
            ring += run[:room]
            run = run[room:]
        if eol or self._unpacker is not None:
            self._pump(at)

    def advance(self, now: float) -> None:
        """Let time pass: finish moves and waits, print keepalives and reports up to ``now``."""
        while True:
            wake = self.next_wakeup()
            if wake is None or wake > now:
                break
            self._step(max(wake, self.now))
        self.now = max(self.now, now)

    def next_wakeup(self) -> float | None:
        """The next time the firmware does something without new input (None: never)."""
        if self.halted or self.tripped:
            return None
        times = [self._next_autoreport, self._next_sd_report]
        running = self._running
        if running is None and self.sd is not None and self.sd.printing and not self._queue:
            times.append(self.now)  # the card feeds the queue on its own
        if running is not None:
            times += [running.wait.until, running.next_keepalive, running.next_report]
        timeout = self._rx_timeout_at()
        if timeout is not None:
            times.append(timeout)
        wake = min(times)
        return None if wake == math.inf else wake

    def take_output(self) -> list[tuple[float, bytes]]:
        """Reply bytes printed since the last call, each with the time it was printed."""
        out, self._out = self._out, []
        return out

    def action(self, name: str, args: str, now: float) -> None:
        """A host action command, as the firmware prints it for ``//action:`` aware hosts."""
        self.emit(f"//action:{name} {args}".rstrip(), now)

    def snapshot(self) -> Stats:
        """A copy of the counters; planner starvation only means something with time_scale > 0."""
        starved = self._starved_now() if self.time_scale > 0 else 0.0
        return replace(self.stats, planner_starved_s=starved)

    # -- output ------------------------------------------------------------------------

    def emit(self, line: str, now: float) -> None:
        data = line.encode("latin-1") + b"\n"
        self.stats.bytes_sent += len(data)
        self._out.append((now, data))

    def temperatures(self) -> str:
        hotend, bed = self.hotend, self.bed
        power = 127 if hotend.target > hotend.temp + 1 else 0
        bed_power = 127 if bed.target > bed.temp + 1 else 0
        return (f"T:{hotend.temp:.2f} /{hotend.target:.2f} B:{bed.temp:.2f} /{bed.target:.2f} "
                f"@:{power} B@:{bed_power}")

    def queue_free(self) -> int:
        return self.profile.command_slots - len(self._queue)

    def set_autoreport(self, seconds: float, now: float) -> None:
        self.autoreport_interval = seconds
        self._next_autoreport = now + self._period(seconds) if seconds > 0 else math.inf

    def _ok(self, accepted: Accepted, now: float) -> None:
        if not self.profile.advanced_ok:
            self.emit("ok", now)
            return
        number = f" N{accepted.line_number}" if accepted.line_number is not None else ""
        self.emit(f"ok{number} P{self.planner.free(now)} B{self.queue_free()}", now)

    # -- the main loop ------------------------------------------------------------------

    def _step(self, now: float) -> None:
        self.now = now
        self.update_heaters(now)
        if now >= self._next_autoreport:
            self.emit(" " + self.temperatures(), now)
            self._next_autoreport = now + self._period(self.autoreport_interval)
        if now >= self._next_sd_report:
            self.emit(self.sd_status(), now)
            self._next_sd_report = now + self._period(self.sd_report_interval)
        running = self._running
        if running is not None:
            if now >= running.next_report and now < running.wait.until:
                self._heat_report(running, now)
            if now >= running.next_keepalive and now < running.wait.until:
                self.emit("echo:busy: processing", now)
                running.next_keepalive = now + self.wall(self.keepalive)
        timeout = self._rx_timeout_at()
        self._pump(now)
        if timeout is not None and now >= timeout and self._assembler.pending and not self._ring:
            self._assembler.clear()
            self.emit("RX timeout", now)
            self._last_rx_at = now

    def _heat_report(self, running: _Running, now: float) -> None:
        reached_at = running.wait.until - self.wall(running.wait.residency)
        if now < reached_at:
            left = "?"
        else:
            left = str(int(running.wait.residency - self._elapsed(now - reached_at)))
        self.emit(f" {self.temperatures()} W:{left}", now)
        running.next_report = now + self._period(1.0)

    def _pump(self, now: float) -> None:
        """Marlin's loop(): finish what is due, read lines while there is room, run the next."""
        while not (self.halted or self.tripped):
            if self._held:
                self._release_held(now)
            running = self._running
            if running is not None:
                if running.wait.until > now:
                    return
                self._complete(running, running.wait.until)
            self._read_lines(now)
            if self._held and self._release_held(now):
                continue  # the ring has lines again
            if not self._queue:
                return
            self._execute(self._queue[0], now)

    def _release_held(self, now: float) -> bool:
        """Let into the ring what the USB side held back, as far as it has room; whether any came in."""
        held, ring = self._held, self._ring
        room = min(len(held), self._ring_capacity - len(ring))
        if room <= 0:
            return False
        run = bytes(held[:room])
        del held[:room]
        self.stats.bytes_received += room
        self._last_rx_at = now
        start = 0
        while start < len(run):  # the emergency parser sees each byte once, a line at a time
            end = next_eol(run, start)
            if not self._scan_emergency(run[start:end], run[end - 1] in EOL, now):
                return False
            start = end
        ring += run
        return True

    def _scan_emergency(self, run: bytes, eol: bool, at: float) -> bool:
        """The emergency parser's look at a run with at most one end of line, at its end; False if it halted."""
        if self._emergency is not None:
            self._emergency.feed_text(run[:-1] if eol else run)
            urgent = self._emergency.end_line() if eol else None
            if urgent is not None:
                self._on_emergency(urgent[0], urgent[1], at)
                if self.halted:
                    return False
        return True

    def _read_lines(self, now: float) -> None:
        if self._ring_overflowed and self.identity.family is Family.PRUSA:
            self.emit("Full RX Buffer", now)
            self._flush_ring()
        if self._unpacker is not None:
            self._read_packed_lines(now)
            self._read_sd(now)
            return
        ring = self._ring
        consumed = 0
        while consumed < len(ring) and len(self._queue) < self.profile.command_slots:
            end = next_eol(ring, consumed)
            if ring[end - 1] not in EOL:  # a partial line: keep it in the line buffer
                self._assembler.feed_text(bytes(ring[consumed:end]))
                consumed = end
                break
            self._assembler.feed_text(bytes(ring[consumed:end - 1]))
            consumed = end
            if not self._take_line(now, consumed):
                return
        del ring[:consumed]
        self._read_sd(now)

    # -- the SD card ---------------------------------------------------------------------

    def _read_sd(self, now: float) -> None:
        """Marlin's get_sdcard_commands(): the printed file's next lines fill what the host left free."""
        sd = self.sd
        while sd is not None and sd.printing and len(self._queue) < self.profile.command_slots:
            line = sd.next_line()
            if line is None:
                sd.close()
                self.emit("Done printing file", now)
                return
            command = line.split(";", 1)[0].strip()
            if command:
                self._queue.append(Accepted(command, None, from_sd=True))

    def sd_status(self) -> str:
        """M27's answer: the position in the open file, or that none is open."""
        sd = self.sd
        if sd is None or sd.open_name is None:
            return "Not SD printing"
        return f"SD printing byte {sd.position}/{sd.size}"

    def set_sd_autoreport(self, seconds: float, now: float) -> None:
        self.sd_report_interval = seconds
        self._next_sd_report = now + self._period(seconds) if seconds > 0 else math.inf

    def stop_sd_print(self) -> None:
        """Close the printed file and drop its lines still queued (the one running finishes) and the moves."""
        assert self.sd is not None
        self.sd.close()
        running = 1 if self._running is not None and self._queue else 0
        kept = list(self._queue)[:running] + [a for a in list(self._queue)[running:] if not a.from_sd]
        self._queue = deque(kept)
        self.planner.quick_stop()

    def abort_sd_print(self, now: float) -> None:
        """"Stop print" on the printer's own screen: the SD print ends, and a host is told to cancel."""
        sd = self.sd
        if sd is None or sd.open_name is None:
            return
        self.stop_sd_print()
        if self.identity.has("HOST_ACTION_COMMANDS"):
            self.emit("//action:cancel", now)

    def _read_packed_lines(self, now: float) -> None:
        """``_read_lines`` through the unpacker: a byte at a time, as MeatPack's serial wrapper reads."""
        ring, unpacker = self._ring, self._unpacker
        assert unpacker is not None
        consumed = 0
        while len(self._queue) < self.profile.command_slots:
            chars, self._unpacked = self._unpacked, b""
            if not chars:
                if consumed >= len(ring):
                    break
                chars = unpacker.feed(ring[consumed])
                consumed += 1
                for report in unpacker.take_reports():
                    self.emit(report, now)
            if not chars:
                continue
            end = next_eol(chars)
            if chars[end - 1] not in EOL:
                self._assembler.feed_text(chars)
                continue
            self._assembler.feed_text(chars[:end - 1])
            self._unpacked = chars[end:]
            if not self._take_line(now, consumed):
                self._unpacked = b""
                return
        del ring[:consumed]

    def _take_line(self, now: float, consumed: int) -> bool:
        """The line reader finished a line with ``consumed`` ring bytes read: queue it, or reject it
        (the ring is flushed and a resend requested) and return False."""
        line = self._assembler.end_line()
        if not line.strip(b" "):
            return True
        verdict = check_line(line, self.last_n, self.profile.checksum_without_line,
                             skip_leading_spaces=self.identity.family is not Family.PRUSA)
        if isinstance(verdict, Rejected):
            del self._ring[:consumed]
            self._line_error(verdict.error, now)
            return False
        if verdict.line_number is not None:
            self.last_n = verdict.line_number
        self.stats.lines_accepted += 1
        self._queue.append(verdict)
        return True

    def _flush_ring(self) -> None:
        self.stats.bytes_flushed += len(self._ring)
        self._ring.clear()
        self._ring_overflowed = False

    def _line_error(self, error: LineErrorKind, now: float) -> None:
        self.emit(error_reply(error, self.last_n), now)
        self._flush_ring()
        self.request_resend(now)

    def request_resend(self, now: float) -> None:
        self.stats.errors += 1
        self.emit(f"Resend: {self.last_n + 1}", now)
        if self.profile.ok_after_resend:
            self.emit("ok", now)

    def _execute(self, accepted: Accepted, now: float) -> None:
        sd = self.sd
        if sd is not None and sd.writing is not None and command_code(accepted.command) != "M29":
            sd.files[sd.writing].data += accepted.command.encode("latin-1") + b"\n"  # M28: saved, not run
            self._finish(accepted, Reply.OK, now)
            return
        record = Executed(accepted.line_number, accepted.command, accepted.line_number is not None, now)
        self.executed.append(record)
        self.stats.commands_executed += 1
        code = command_code(accepted.command)
        handler = self._handlers.get(code)
        if handler is None:
            self.emit(f'echo:Unknown command: "{accepted.command}"', now)
            outcome: Wait | Reply = Reply.OK
        else:
            outcome = handler(self, accepted, now)
        if isinstance(outcome, Wait):
            if outcome.kind is not WaitKind.PLANNER:
                self.planner.excuse(outcome.until)
            report = now if outcome.kind is WaitKind.HEAT and outcome.until > now else math.inf
            keepalive = self.wall(self.keepalive)
            self._running = _Running(accepted, now, outcome, now + keepalive if keepalive > 0 else math.inf, report)
            return
        self._finish(accepted, outcome, now)

    def _complete(self, running: _Running, now: float) -> None:
        self._running = None
        self.stats.busy_s += now - running.started
        outcome = running.wait.then(now) if running.wait.then is not None else Reply.OK
        self._finish(running.accepted, outcome, now)

    def _finish(self, accepted: Accepted, outcome: Reply, now: float) -> None:
        if self.halted:
            return
        if outcome is Reply.OK and not accepted.from_sd:
            self._ok(accepted, now)
        self._queue.popleft()
        if self.trip_after is not None and self.stats.commands_executed >= self.trip_after:
            self.trip_after = None
            self.tripped = True

    def untrip(self) -> None:
        """Let a tripped firmware run on (the fault was handled outside, e.g. an unplug)."""
        self.tripped = False

    # -- emergencies and the end of the world ---------------------------------------------

    def _on_emergency(self, kind: Emergency, answer: int | None, now: float) -> None:
        if kind is Emergency.M112:
            self.kill(now)
        elif kind is Emergency.M108:
            self.cancel_heating(now)
        elif kind is Emergency.M410:
            self.quick_stop(now)
        elif kind is Emergency.M876 and answer is not None:
            self.prompt_responses.append(answer)

    def kill(self, now: float) -> None:
        """M112: print the kill message and ignore everything until reset."""
        self.emit("Error:Printer halted. kill() called!", now)
        self.halted = True
        self._queue.clear()
        self._running = None
        self._ring.clear()
        self.planner.quick_stop()
        self.hotend.target = self.bed.target = 0.0

    def cancel_heating(self, now: float) -> None:
        """M108: stop waiting for a heater (the wait acks at once)."""
        running = self._running
        if running is not None and running.wait.kind is WaitKind.HEAT:
            running.wait.until = min(running.wait.until, now)

    def quick_stop(self, now: float) -> None:
        """M410: drop the planned moves; whoever waited for the planner goes on now."""
        self.planner.quick_stop()
        running = self._running
        if running is not None and running.wait.kind in (WaitKind.PLANNER, WaitKind.SYNC):
            running.wait.until = min(running.wait.until, now)

    # -- Prusa RX timeout ------------------------------------------------------------------

    def _rx_timeout_at(self) -> float | None:
        timeout = self.profile.rx_timeout
        if timeout is None or self.time_scale == 0:
            return None
        if not (self._assembler.pending or self._ring) or self._ring_has_line():
            return None
        if self._running is not None or len(self._queue) >= self.profile.command_slots:
            return None
        return self._last_rx_at + self.wall(timeout)

    def _ring_has_line(self) -> bool:
        return b"\n" in self._ring or b"\r" in self._ring

    def _starved_now(self) -> float:
        return self._starved_before + self.planner.starved

