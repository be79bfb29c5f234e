"""The host side of Marlin's line protocol, with no I/O: commands and reply bytes in, line bytes and events out.

Correctness rests on the firmware: Marlin executes a numbered line only if N is last N + 1, so a
line is never run twice or out of order as long as line N always carries the same text. The
sender's job is to keep the stream flowing without ever losing a line:

* send-ahead: unacknowledged bytes stay below the RX buffer and unacknowledged lines within the
  command slots (ADVANCED_OK's ``B`` may raise the slot count);
* resends from a history of at least 256 lines; one resend per burst of ``Resend:`` requests for
  a line (the stale lines still on the wire each trigger another request); the ``ok`` that
  follows a ``Resend:`` is not a new credit; requested numbers are checked against what was sent;
* anonymous ``ok`` s are matched to lines in send order. Anything that makes that matching
  uncertain (a garbled reply, a resend, an unknown command) marks the stream *uncertain*: an M105
  is slipped in so its ``ok T:`` resynchronises the window within milliseconds, and before the
  stream reports itself idle it asks the firmware where it really is by re-sending the last line
  (an already accepted line is rejected with ``Resend: last+1``, never executed twice).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from farmctl.profiles import FirmwareProfile
from farmctl.protocol import gcode
from farmctl.protocol.replies import (
    Busy, LineError, LineErrorKind, Ok, Reply, ResendRequest, RxBufferFull, Start, Temperatures, UnknownCommand,
    Unrecognized, parse_reply,
)

STALL_TIMEOUT_MIN = 3.0
"""Seconds of silence with lines in flight before the sender asks the firmware where it is."""
LONG_COMMAND_TIMEOUT = 600.0
"""The same for G28/G29/M109/M190/M400…, which may ack minutes later and need not report meanwhile."""
PROBE_TIMEOUT = 1.0
"""A position probe whose reply was lost is repeated after this long."""
MAX_SILENT_PROBES = 3
"""Probes in a row with no reply at all before the printer is declared not responding."""
_M105 = "M105"


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The firmware took a submitted command (its ``ok`` arrived)."""

    command: str
    line: int | None
    tag: Any


@dataclass(frozen=True, slots=True)
class Resending:
    """The firmware asked for lines again; ``line`` is the first one re-sent."""

    line: int


@dataclass(frozen=True, slots=True)
class NotResponding:
    """Lines are in flight and the firmware has said nothing through several probes."""

    seconds: float


Event = Reply | Acknowledged | Resending | NotResponding


@dataclass(slots=True)
class SenderStats:
    lines_sent: int = 0
    bytes_sent: int = 0
    lines_resent: int = 0
    resend_requests: int = 0
    resend_requests_ignored: int = 0
    garbled_replies: int = 0
    sync_probes: int = 0
    acknowledged: int = 0


@dataclass(slots=True)
class _Line:
    number: int
    encoded: bytes
    command: str
    tag: Any


@dataclass(slots=True)
class _Transmission:
    """One line on its way: sent, its ``ok`` not yet seen."""

    seq: int
    number: int | None
    size: int
    command: str
    tag: Any
    submitted: bool = True  # False for sync probes and resync M105s the caller never asked for
    long_running: bool = False


@dataclass(slots=True)
class _Window:
    """What may be unacknowledged at once."""

    slots: int
    bytes: int


class Sender:
    """Numbering, flow control and resend rules for one printer's serial line."""

    def __init__(self, profile: FirmwareProfile) -> None:
        self.profile = profile
        self.stats = SenderStats()
        slots = 1 if profile.ping_pong else profile.command_slots
        self._window = _Window(slots=slots, bytes=profile.rx_buffer - 1)
        self._stall_timeout = max(STALL_TIMEOUT_MIN, 2 * profile.keepalive + 1)
        self._rx = bytearray()
        self._pending: deque[tuple[str, Any, bool]] = deque()
        self._urgent: deque[tuple[str, Any, bool]] = deque()
        self._out = bytearray()
        self._history: dict[int, _Line] = {}
        self._inflight: deque[_Transmission] = deque()
        self._inflight_bytes = 0
        self._seq = 0
        self._next_number = 0
        self._resend_cursor: int | None = None
        self._burst_line: int | None = None
        self._burst_stale = 0
        self._burst_seq = 0
        self._last_error: LineErrorKind | None = None
        self._expect_resend_ok = False
        self._uncertain = False
        self._resync_m105_wanted = False
        self._probe_sent_at: float | None = None
        self._silent_probes = 0
        self._last_reply = 0.0
        self._accepted = -1  # highest line ADVANCED_OK reported as taken from the RX buffer
        self._halted = False

    # -- commands in ---------------------------------------------------------------------------

    def start_session(self, now: float) -> None:
        """Forget everything in flight and restart numbering with ``N0 M110 N0``."""
        self._pending.clear()
        self._urgent.clear()
        self._out.clear()
        self._history.clear()
        self._inflight.clear()
        self._inflight_bytes = 0
        self._next_number = 0
        self._resend_cursor = None
        self._burst_line = None
        self._burst_stale = 0
        self._expect_resend_ok = False
        self._uncertain = False
        self._resync_m105_wanted = False
        self._probe_sent_at = None
        self._silent_probes = 0
        self._last_reply = now
        self._accepted = -1
        self._halted = False
        self._rx.clear()
        self.submit("M110 N0", tag=None)

    def submit(self, command: str, tag: Any = None, *, urgent: bool = False) -> None:
        """Queue a cleaned command; ``urgent`` puts it before the job lines still waiting."""
        (self._urgent if urgent else self._pending).append((command, tag, True))

    def emergency(self, command: str) -> None:
        """Send now, unnumbered and past the window: the emergency parser acts on it on arrival."""
        line = command.encode("ascii") + b"\n"
        self._out += line
        self._track(None, len(line), command, None, submitted=False)

    def discard_pending(self) -> int:
        """Drop job lines not yet sent (cancel); lines already sent still complete."""
        dropped = len(self._pending)
        self._pending.clear()
        return dropped

    # -- state -----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._urgent)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def idle(self) -> bool:
        """Everything submitted was acknowledged and, after any doubt, confirmed by the firmware."""
        return (not self._pending and not self._urgent and not self._inflight and self._resend_cursor is None
                and not self._uncertain and not self._out)

    @property
    def halted(self) -> bool:
        """The firmware reset; a new session (``start_session``) is needed before anything is sent."""
        return self._halted

    @property
    def uncertain(self) -> bool:
        return self._uncertain

    @property
    def last_line(self) -> int:
        """The number of the last line sent."""
        return self._next_number - 1

    # -- bytes out -----------------------------------------------------------------------------

    def data_to_send(self, now: float) -> bytes:
        """Every byte the window allows right now."""
        if self._halted:
            return b""
        self._maybe_probe(now)
        while True:
            if self._resend_cursor is not None:
                line = self._history[self._resend_cursor]
                if not self._fits(len(line.encoded)):
                    break
                self._transmit(line, resent=True)
                self._resend_cursor = line.number + 1 if line.number + 1 < self._next_number else None
                continue
            if self._resync_m105_wanted and self._inflight and not self._has_m105_in_flight():
                self._urgent.appendleft((_M105, None, False))
                self._resync_m105_wanted = False
            queue = self._urgent or self._pending
            if not queue or self._probe_sent_at is not None:
                break
            command, tag, submitted = queue[0]
            encoded = gcode.encode(self._next_number, command, self.profile.max_line_length)
            if not self._fits(len(encoded)):
                break
            queue.popleft()
            line = _Line(self._next_number, encoded, command, tag)
            self._remember(line)
            self._next_number += 1
            self._transmit(line, resent=False, submitted=submitted)
        data = bytes(self._out)
        self._out.clear()
        return data

    def _fits(self, size: int) -> bool:
        """Room for one more line: bytes still in the RX ring and lines not yet acknowledged.

        With ADVANCED_OK the firmware tells which lines it already took out of the RX ring, so only
        the lines after that count against the ring and only the ones before against the slots.
        """
        if not self._inflight:
            return True
        if self.profile.ping_pong:
            return False
        if self._accepted < 0:
            return len(self._inflight) < self._window.slots and self._inflight_bytes + size <= self._window.bytes
        unparsed = [t for t in self._inflight if t.number is None or t.number > self._accepted]
        queued = len(self._inflight) - len(unparsed)
        return queued <= self._window.slots and sum(t.size for t in unparsed) + size <= self._window.bytes

    def _remember(self, line: _Line) -> None:
        self._history[line.number] = line
        self._history.pop(line.number - max(self.profile.history, 256), None)

    def _transmit(self, line: _Line, *, resent: bool, submitted: bool = True) -> None:
        self._out += line.encoded
        self.stats.lines_sent += 1
        self.stats.bytes_sent += len(line.encoded)
        if resent:
            self.stats.lines_resent += 1
        self._track(line.number, len(line.encoded), line.command, line.tag, submitted=submitted)

    def _track(self, number: int | None, size: int, command: str, tag: Any, *, submitted: bool) -> None:
        self._seq += 1
        self._inflight.append(_Transmission(self._seq, number, size, command, tag, submitted, gcode.is_long_running(command)))
        self._inflight_bytes += size

    def has_m105_queued(self) -> bool:
        """An M105 is waiting or in flight: a poller must not add another to a busy queue."""
        return self._has_m105_in_flight()

    def _has_m105_in_flight(self) -> bool:
        return any(t.command == _M105 for t in self._inflight) or any(c == _M105 for c, _, _ in self._urgent)

    def _unsent(self) -> bool:
        return bool(self._pending or self._urgent or self._resend_cursor is not None)

    # -- bytes in --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the port; returns the events of every complete line."""
        self._rx += data
        events: list[Event] = []
        while (end := self._rx.find(b"\n")) >= 0:
            raw = bytes(self._rx[:end])
            del self._rx[:end + 1]
            events.extend(self.receive_line(raw, now))
        return events

    def receive_line(self, raw: bytes, now: float) -> list[Event]:
        self._last_reply = now
        self._silent_probes = 0
        events: list[Event] = []
        for reply in parse_reply(raw):
            events.append(reply)
            events.extend(self._handle(reply, now))
        return events

    def _handle(self, reply: Reply, now: float) -> list[Event]:
        expecting_resend_ok, self._expect_resend_ok = self._expect_resend_ok, False
        if isinstance(reply, Ok):
            if expecting_resend_ok and reply.temperatures is None:
                return []  # the rejected line's ok: not a new credit
            return self._on_ok(reply)
        if isinstance(reply, LineError):
            self._last_error = reply.kind
            return []
        if isinstance(reply, ResendRequest):
            return self._on_resend(reply.line, now)
        if isinstance(reply, Unrecognized):
            self.stats.garbled_replies += 1
            self._doubt()
        elif isinstance(reply, (UnknownCommand, RxBufferFull)):
            self._doubt()
        elif isinstance(reply, Start):
            self._halt()
        return []

    def _halt(self) -> None:
        """The firmware rebooted: its numbering restarted, so nothing may be sent or re-sent until a new session.

        Re-sending history now would make the firmware ask for line 1 again and replay the job.
        """
        self._halted = True
        self._pending.clear()
        self._urgent.clear()
        self._out.clear()
        self._history.clear()
        self._inflight.clear()
        self._inflight_bytes = 0
        self._resend_cursor = None
        self._uncertain = False
        self._resync_m105_wanted = False
        self._probe_sent_at = None

    def _doubt(self) -> None:
        """An ok may have been lost or invented: resynchronise with an M105 and confirm at the end."""
        self._uncertain = True
        if self._inflight:
            self._resync_m105_wanted = True

    def _on_ok(self, ok: Ok) -> list[Event]:
        if ok.line is not None:
            self._accepted = max(self._accepted, ok.line)
            if ok.queue_free is not None:
                self._window.slots = max(self._window.slots, ok.queue_free + 1)
        if not self._inflight:
            if self._probe_sent_at is not None:
                self._probe_sent_at = None  # the probe itself was taken: the last line had been lost; ask again
            return []
        if ok.temperatures is not None:
            if any(t.command == _M105 for t in self._inflight):
                return self._pop_through(lambda t: t.command == _M105)
            self._uncertain = True  # an M105 we had given up for lost: no credit
            return []
        head = self._inflight[0]
        if ok.line is not None and head.number is not None and head.number > ok.line:
            self._uncertain = True  # the firmware has not even taken this line: the ok is not its
            return []
        return self._pop_through(lambda t: True)

    def _pop_through(self, is_last) -> list[Event]:
        events: list[Event] = []
        skipped = False
        while self._inflight:
            transmission = self._inflight.popleft()
            self._inflight_bytes -= transmission.size
            if transmission.seq > self._burst_seq:
                self._burst_stale = 0
            if transmission.submitted:
                self.stats.acknowledged += 1
                events.append(Acknowledged(transmission.command, transmission.number, transmission.tag))
            if is_last(transmission):
                break
            skipped = True
        if skipped:
            self._uncertain = True
        return events

    def _on_resend(self, line: int, now: float) -> list[Event]:
        self.stats.resend_requests += 1
        if self.profile.ok_after_resend:
            self._expect_resend_ok = True
        last_error, self._last_error = self._last_error, None
        oldest = min(self._history, default=0)
        if not (oldest <= line <= self._next_number) or (line < self._next_number and line not in self._history):
            self.stats.resend_requests_ignored += 1
            self._uncertain = True
            return []
        if self._probe_sent_at is not None:
            self._probe_sent_at = None
            self._burst_stale = 0
        elif line == self._burst_line and self._burst_stale > 0 and last_error in (None, LineErrorKind.LINE_NUMBER):
            self._burst_stale -= 1
            self.stats.resend_requests_ignored += 1
            return []
        self._uncertain = True
        rejected_from = min((t.seq for t in self._inflight if t.number is not None and t.number >= line), default=self._seq + 1)
        dropped = [t for t in self._inflight if t.seq >= rejected_from]
        self._inflight = deque(t for t in self._inflight if t.seq < rejected_from)
        self._inflight_bytes = sum(t.size for t in self._inflight)
        self._burst_line = line
        self._burst_stale = max(0, sum(1 for t in dropped if t.number is not None) - 1)
        self._burst_seq = self._seq
        if line >= self._next_number:
            self._resend_cursor = None
            if not self._inflight and not self._unsent():
                self._uncertain = False  # the firmware confirmed every line we sent
            return []
        self._resend_cursor = line
        return [Resending(line)]

    # -- time ------------------------------------------------------------------------------------

    def _maybe_probe(self, now: float) -> None:
        """When drained but in doubt, re-send the last line to learn where the firmware is."""
        if not self._inflight:
            self._resync_m105_wanted = False
        if self._uncertain and not self._inflight and not self._unsent() and self._probe_sent_at is None:
            if self._accepted == self._next_number - 1:
                self._uncertain = False  # ADVANCED_OK already told us the last line was taken
                return
            self._send_probe(now)

    def _send_probe(self, now: float) -> None:
        line = self._history.get(self._next_number - 1)
        if line is None:
            self._uncertain = False
            return
        self.stats.sync_probes += 1
        self._probe_sent_at = now
        self._out += line.encoded
        self.stats.bytes_sent += len(line.encoded)

    def next_deadline(self) -> float | None:
        """When ``tick`` next needs to run."""
        if self._halted:
            return None
        if self._probe_sent_at is not None:
            return self._probe_sent_at + PROBE_TIMEOUT
        if self._uncertain and not self._inflight and not self._unsent():
            return self._last_reply  # a confirmation probe is due now
        if self._inflight:
            return self._last_reply + self._timeout()
        return None

    def _timeout(self) -> float:
        return LONG_COMMAND_TIMEOUT if any(t.long_running for t in self._inflight) else self._stall_timeout

    def tick(self, now: float) -> list[Event]:
        """Run timeouts: a silent line gets a probe; several silent probes mean the printer is gone."""
        if self._probe_sent_at is not None:
            if now - self._probe_sent_at < PROBE_TIMEOUT:
                return []
            return self._probe_again(now)
        if self._inflight and now - self._last_reply >= self._timeout():
            self._uncertain = True
            return self._probe_again(now)
        return []

    def _probe_again(self, now: float) -> list[Event]:
        self._silent_probes += 1
        if self._silent_probes > MAX_SILENT_PROBES:
            return [NotResponding(now - self._last_reply)]
        self._send_probe(now)
        return []

