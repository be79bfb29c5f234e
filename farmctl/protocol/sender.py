"""The host side of Marlin's line protocol, with no I/O: commands and reply bytes in, line bytes and events out.

Correctness rests on the firmware: Marlin executes a numbered line only if N is last N + 1, so a
line is never run twice or out of order as long as line N always carries the same text. The
sender's job is to keep the stream flowing without ever losing a line:

* send-ahead: unacknowledged bytes stay below the RX buffer and unacknowledged lines within the
  command slots (ADVANCED_OK's ``B`` may raise the slot count);
* resends from a history of at least 256 lines. After a ``Resend:`` the lines that were still on
  the wire each trigger another request, and each such error flushes the firmware's RX buffer
  again, destroying whatever re-sent lines already waited there. So a resend is followed by a
  short *recovery*: one line in flight until the firmware takes a re-sent line, the repeated
  requests for that line are not acted on (one resend per burst), and a re-sent line that
  vanished in a flush is sent again after a quiet moment (a request for a later line then ends the
  recovery: the firmware had a copy, only its ok was late or lost). The ``ok`` that follows a ``Resend:``
  is not a new credit, and a requested number must fit what was really sent;
* anonymous ``ok`` s are matched to lines in send order (ADVANCED_OK names the line). Anything
  that makes that matching uncertain (a garbled reply, a resend, an unknown command) marks the
  stream *uncertain*: an M105 is slipped in so its ``ok T:`` resynchronises the window within
  milliseconds, and before the stream reports itself idle it asks the firmware where it really
  is by re-sending the last line (an accepted line is rejected with ``Resend: last+1``, never
  executed twice);
* a window that makes no progress for a few seconds is abandoned and the firmware asked again;
  several silent rounds in a row mean the printer is not responding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from farmctl.profiles import FirmwareProfile
from farmctl.protocol import gcode
from farmctl.protocol.events import Acknowledged, Event, NotResponding, Resending, SenderStats
from farmctl.protocol.meatpack import MeatPack
from farmctl.protocol.mode import TRANSITIONS, UNCERTAIN, SenderMode
from farmctl.protocol.replies import (
    PLAIN_OK, Busy, LineError, MeatPackState, Ok, Reply, ResendRequest, RxBufferFull, Start, UnknownCommand,
    Unrecognized, parse_reply,
)

STALL_TIMEOUT_MIN = 3.0
"""Seconds without progress, lines in flight, before the window is abandoned and the firmware asked."""
LONG_COMMAND_TIMEOUT = 600.0
"""The same for G28/G29/M109/M190/M400…, which may ack minutes later and need not report meanwhile."""
PROBE_TIMEOUT = 1.0
"""A position probe whose reply was lost is repeated after this long."""
RECOVERY_QUIET = 0.1
"""After a resend, a re-sent line with no reply for this long was flushed away: send it again."""
TICKLE_QUIET = 0.5
"""Lines in flight and no ok for this long: slip in an M105, whose reply shows where the firmware is,
and again each time this long passes in silence (until the stall timeout). A lost line end leaves the
firmware waiting for the rest of a line; the M105 completes it as a bad line (a Resend follows) or,
if an ok was lost, its own ``ok T:`` accounts for it."""
PARTIAL_REPLY_TIMEOUT = 0.1
"""A reply line left without its end this long lost it on the wire: it is judged as it stands."""
MAX_SILENT_ROUNDS = 3
"""Stalls in a row with no reply at all before the printer is declared not responding."""
MAX_REPLY_BYTES = 4096
"""A reply line longer than this is cut and judged as it stands (it is noise)."""
ENCODE_AHEAD = 8
"""Job lines numbered and checksummed at a time, ahead of the window: a burst, not a little every line."""
_M105 = "M105"
_HANDSHAKE = "M110 N0"
_M = SenderMode


class _Nudge(Enum):
    """Why an M105 is to be slipped in before the next line."""

    RESYNC = "resync"  # a doubt: its ``ok T:`` shows which ok was lost (not if an M105 is already on its way)
    TICKLE = "tickle"  # silence: complete a line whose end was lost (even if an earlier M105 got no answer)


class _Line(NamedTuple):
    """A numbered line as sent (and re-sent). Internal records are named tuples: made per line, so cheap."""

    number: int
    encoded: bytes
    command: str
    tag: Any
    submitted: bool  # False for the M105s the sender slips in itself
    long_running: bool  # acks only when finished: G28, M109, M400…


class Burst(NamedTuple):
    """The steady stream handed to a hot loop (``farmctl.hotloop``): these lines out as the window
    frees, each plain ``ok`` the oldest line's, until something else arrives or time is up.

    The same rules as ``data_to_send`` and ``receive_data`` in STREAMING, reduced to numbers a loop
    with no Python in it can follow; ``Sender.burst_done`` then books what it did.
    """

    lines: bytes                # the next lines as they go out, back to back
    ends: tuple[int, ...]       # where each of them ends in ``lines``
    in_flight: tuple[int, ...]  # the sizes of the transmissions on the wire, oldest first
    slots: int                  # lines that may be in flight
    max_bytes: int              # bytes that may be in flight
    quiet: float | None         # seconds from now until ``tick`` is due, None: not before a reply
    quiet_after_ok: float       # after each ok, seconds until ``tick`` is due


class _Transmission(NamedTuple):
    """One line on its way: sent, its ``ok`` not yet seen."""

    seq: int
    number: int | None
    size: int
    line: _Line | None  # None for emergency commands


def window_bytes(profile: FirmwareProfile) -> int:
    """Unacknowledged bytes a host may have on the line.

    Through a UART bridge, what the RX ring holds: more is dropped. A native-USB board holds the
    rest back, so the window may also cover the lines its command queue took out of the ring.
    """
    ring = profile.rx_buffer - 1
    return ring + profile.command_slots * (profile.max_line_length + 1) if profile.back_pressure else ring


def window_lines(profile: FirmwareProfile) -> int:
    """Unacknowledged lines: the command queue's (BUFSIZE); with back-pressure, as many again in the ring."""
    if profile.ping_pong:
        return 1
    return 2 * profile.command_slots if profile.back_pressure else profile.command_slots


class Sender:
    """Numbering, flow control and resend rules for one printer's serial line."""

    def __init__(self, profile: FirmwareProfile) -> None:
        self.profile = profile
        self.stats = SenderStats()
        self._stall_timeout = max(STALL_TIMEOUT_MIN, 2 * profile.keepalive + 1)
        self._max_bytes = window_bytes(profile)
        self._history_size = max(profile.history, 256)
        self._mode = _M.STREAMING
        self._codec: MeatPack | None = None
        self._reset(0.0)

    def _reset(self, now: float) -> None:
        """Forget the session: numbering, history, window and every doubt."""
        self._set_mode(_M.STREAMING, new_session=True)
        self._slots = window_lines(self.profile)
        self._rx = b""
        self._rx_since = now  # when the partial reply in _rx began
        self._out = bytearray()
        self._pending: deque[tuple[str, Any]] = deque()
        self._ahead: deque[_Line] = deque()  # the first pending lines, encoded as _next_number, _next_number + 1, ...
        self._urgent: deque[tuple[str, Any, bool]] = deque()
        self._history: dict[int, _Line] = {}
        self._inflight: deque[_Transmission] = deque()
        self._inflight_bytes = 0
        self._seq = 0
        self._next_number = 0
        self._acked_max = -1
        self._resend_cursor: int | None = None
        self._recovery_line = -1  # RECOVERING: the line the resend started from
        self._recovery_seq = 0  # RECOVERING: transmissions after this one belong to the recovery
        self._implausible: int | None = None  # the last Resend number that fit nothing we sent
        self._last_reply = now
        self._uncredited_ok_next = False
        self._nudge: _Nudge | None = None
        self._probe_sent_at = 0.0  # PROBING: when the probe went out
        self._silent_rounds = 0
        self._last_progress = now  # the last sign of life from a window with lines in it
        self._quiet_since = now  # the last sign of life or tickle: the next tickle is due TICKLE_QUIET later
        self._peeked: _Line | None = None  # the next new line, encoded once while it waits for room
        self._prefix = b""  # bytes the next line carries in front (turning MeatPack on or off)

    # -- commands in ---------------------------------------------------------------------------

    def start_session(self, now: float) -> None:
        """Forget everything in flight and restart numbering with ``N0 M110 N0``."""
        codec, self._codec = self._codec, None
        self._reset(now)
        if codec is not None:  # the firmware may still unpack (no reset): the handshake goes out plain
            self._prefix = codec.stop
        self.submit(_HANDSHAKE, tag=None)

    def pack_with(self, codec: MeatPack) -> None:
        """Send every line from the next one on in ``codec``'s packed form, the history too (a resend
        goes out as the firmware now reads). Lines re-sent after a ``Resend:`` carry ``codec.resync``:
        the flush that made the firmware ask may have cut a packed pair in half."""
        self._codec = codec
        self._prefix = codec.start
        self._unnumber_ahead()
        self._peeked = None
        self._history = {n: line._replace(encoded=codec.pack(line.encoded)) for n, line in self._history.items()}

    def _set_mode(self, new: SenderMode, *, new_session: bool = False) -> None:
        """The one place the mode changes; a change the table does not allow is a bug in the sender."""
        if new is self._mode:
            return
        if not new_session and new not in TRANSITIONS[self._mode]:
            raise RuntimeError(f"sender: no transition {self._mode.name} -> {new.name}")
        self._mode = new

    def _unsure(self) -> None:
        """Where the firmware is became uncertain; a recovery or probe under way already is."""
        if self._mode is _M.STREAMING:
            self._set_mode(_M.DOUBTFUL)

    def submit(self, command: str, tag: Any = None, *, urgent: bool = False) -> None:
        """Queue a cleaned command; ``urgent`` puts it before the job lines still waiting.

        Raises GcodeError, here and not when it is sent, for a line the firmware would truncate.
        """
        gcode.check_length(command, self.profile.max_line_length)
        if urgent:
            self._urgent.append((command, tag, True))
        else:
            self._pending.append((command, tag))

    def emergency(self, command: str, now: float) -> None:
        """Send now, unnumbered and past the window: the emergency parser acts on it on arrival."""
        if not self._inflight:
            self._progress(now)
        encoded = command.encode("ascii") + b"\n"
        if self._codec is not None:  # the emergency parser reads the raw bytes: this one goes unpacked
            encoded = self._codec.unpacked(encoded)
        self._out += encoded
        self._track(None, len(encoded), None)

    def discard_pending(self) -> int:
        """Drop job lines not yet sent (cancel); lines already sent still complete."""
        dropped = len(self._pending) + len(self._ahead)
        self._pending.clear()
        self._ahead.clear()
        return dropped

    # -- state -----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._ahead) + len(self._urgent)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def mode(self) -> SenderMode:
        return self._mode

    @property
    def idle(self) -> bool:
        """Everything submitted was acknowledged and, after any doubt, confirmed by the firmware."""
        return self._mode is _M.STREAMING and not (self._unsent() or self._inflight or self._out)

    @property
    def halted(self) -> bool:
        """The firmware reset; a new session (``start_session``) is needed before anything is sent."""
        return self._mode is _M.HALTED

    @property
    def uncertain(self) -> bool:
        return self._mode in UNCERTAIN

    def has_m105_queued(self) -> bool:
        """An M105 is waiting or in flight: a poller must not add another to a busy queue."""
        return self._m105_in_flight() > 0 or self._m105_waiting()

    def _m105_in_flight(self) -> int:
        return sum(1 for t in self._inflight if t.line is not None and t.line.command == _M105)

    def _only_own_m105s_in_flight(self) -> bool:
        """Nothing in flight but M105s the sender slipped in (their ``ok T:`` may have been taken by
        an earlier one whose own was lost: another M105 would only be taken for this one in turn)."""
        return all(t.line is not None and not t.line.submitted and t.line.command == _M105 for t in self._inflight)

    def _m105_waiting(self) -> bool:
        return any(command == _M105 for command, _, _ in self._urgent)

    def _unsent(self) -> bool:
        return bool(self._pending or self._ahead or self._urgent or self._resend_cursor is not None)

    # -- bytes out -----------------------------------------------------------------------------

    def data_to_send(self, now: float) -> bytes:
        """Every byte the window allows right now."""
        mode = self._mode
        if mode is _M.HALTED:
            return b""
        if not self._inflight:
            self._nudge = None
        elif (nudge := self._nudge) is not None and (
                not self._m105_waiting() if nudge is _Nudge.TICKLE else not self.has_m105_queued()):
            self._urgent.appendleft((_M105, None, False))
            self._nudge = None
        if (mode is _M.DOUBTFUL or mode is _M.RECOVERING) and not self._inflight and not self._unsent():
            self._send_probe(now)
        if not self._inflight:
            self._progress(now)  # the stall and tickle clocks start when lines go in flight, not at the last ok
        while self._mode is not _M.PROBING and (line := self._next_line()) is not None and self._fits(line):
            self._out += self._take_next_line(line)
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    def _next_line(self) -> _Line | None:
        """The line that goes next: a resend, else an urgent command, else a job line (numbered lazily)."""
        if self._resend_cursor is not None:
            return self._history[self._resend_cursor]
        if self._urgent:
            if self._ahead:
                self._unnumber_ahead()  # the urgent line takes the number they were given
            command, tag, submitted = self._urgent[0]
            peeked = self._peeked
            if peeked is None or peeked.command is not command or peeked.tag is not tag:
                peeked = self._peeked = self._numbered(self._next_number, command, tag, submitted)
            return peeked
        if not self._ahead:
            if not self._pending:
                return None
            self._number_ahead()
        return self._ahead[0]

    def _numbered(self, number: int, command: str, tag: Any, submitted: bool) -> _Line:
        encoded = gcode.encode(number, command, self.profile.max_line_length)
        if self._codec is not None:
            encoded = self._codec.pack(encoded)
        return _Line(number, encoded, command, tag, submitted, gcode.is_long_running(command))

    def _number_ahead(self, count: int = ENCODE_AHEAD) -> None:
        """Number up to ``count`` more pending job lines, after those numbered already."""
        pending, number = self._pending, self._next_number + len(self._ahead)
        for offset in range(min(count, len(pending))):
            command, tag = pending.popleft()
            self._ahead.append(self._numbered(number + offset, command, tag, True))

    def _unnumber_ahead(self) -> None:
        self._pending.extendleft((line.command, line.tag) for line in reversed(self._ahead))
        self._ahead.clear()

    def _take_next_line(self, line: _Line) -> bytes:
        """Put the line ``_next_line`` chose in flight; returns its bytes as they go out."""
        resync = self._mode is _M.RECOVERING
        if self._resend_cursor is not None:
            self.stats.lines_resent += 1
            following = line.number + 1
            self._resend_cursor = following if following < self._next_number else None
        else:
            if self._urgent:
                self._urgent.popleft()
                self._peeked = None
            else:
                self._ahead.popleft()
            self._history[line.number] = line
            self._history.pop(line.number - self._history_size, None)
            self._next_number += 1
            resync = False
        encoded = self._wire(line.encoded, resync)
        stats = self.stats
        stats.lines_sent += 1
        stats.bytes_sent += len(encoded)
        self._track(line.number, len(encoded), line)
        return encoded

    def _fits(self, line: _Line) -> bool:
        """Room for one more line in the RX buffer and the command slots (always room for one).

        The sender's own M105 may take one slot more: it exists to unstick a full window, and the
        RX buffer limit still holds (a firmware with full slots leaves bytes in its RX buffer).
        """
        if not self._inflight:
            return True
        if self._mode is _M.RECOVERING and self._inflight[-1].seq > self._recovery_seq:
            return False  # recovering from a resend: one re-sent line at a time
        slots = self._slots if line.submitted else self._slots + 1
        return len(self._inflight) < slots and self._inflight_bytes + len(line.encoded) <= self._max_bytes

    def _track(self, number: int | None, size: int, line: _Line | None) -> None:
        self._seq += 1
        self._inflight.append(_Transmission(self._seq, number, size, line))
        self._inflight_bytes += size

    def _send_probe(self, now: float) -> None:
        """Re-send the last line: the firmware either takes it (it was lost) or answers where it is.

        A recovery whose window was abandoned ends here: the answer says where the firmware is.
        """
        line = self._history.get(self._next_number - 1)
        if line is None or line.number == 0:
            self._set_mode(_M.STREAMING)  # nothing but the handshake was sent: nothing to confirm
            return
        self.stats.sync_probes += 1
        self._set_mode(_M.PROBING)
        self._probe_sent_at = now
        encoded = self._wire(line.encoded, resync=True)
        self._out += encoded
        self.stats.bytes_sent += len(encoded)

    def _wire(self, encoded: bytes, resync: bool) -> bytes:
        """A line as it goes out: behind MeatPack's command bytes when they are due (the prefix of
        a session change, or the resync of a line re-sent while the firmware may be out of step)."""
        prefix, self._prefix = self._prefix, b""
        if resync and self._codec is not None:
            prefix = self._codec.resync
        return prefix + encoded if prefix else encoded

    # -- the hot loop's share ----------------------------------------------------------------------

    def burst(self, now: float) -> Burst | None:
        """The job lines waiting, for a hot loop to send as plain ``ok`` s make room; None unless the
        stream is in its steady state: certain, unpacked, nothing but job lines waiting, no reply half read.

        Call it right after ``data_to_send``, whose bytes must be written before the burst runs.
        """
        if (self._mode is not _M.STREAMING or self._codec is not None or self._rx or self._out or self._urgent
                or self._prefix or self._uncredited_ok_next or self._nudge is not None
                or self._resend_cursor is not None or not (self._ahead or self._pending)):
            return None
        self._number_ahead(len(self._pending))
        ahead = self._ahead
        if any(line.long_running for line in ahead):
            return None  # its ok may come minutes later: the general path's timers judge that silence
        ends, end = [], 0
        for line in ahead:
            end += len(line.encoded)
            ends.append(end)
        deadline = self.next_deadline()
        return Burst(b"".join(line.encoded for line in ahead), tuple(ends),
                     tuple(t.size for t in self._inflight), self._slots, self._max_bytes,
                     None if deadline is None else max(0.0, deadline - now), TICKLE_QUIET)

    def burst_done(self, sent: int, oks: int, last_ok: float) -> list[Event]:
        """Book what a hot loop did with ``burst``'s lines: the first ``sent`` went out, and ``oks``
        plain oks came in, the last at ``last_ok``. The same books as the general path's, in the same
        order per transmission: the window is first in, first out, so sends and oks commute."""
        take = self._take_next_line
        for _ in range(sent):
            take(self._ahead[0])
        events: list[Event] = []
        for _ in range(oks):
            events += self._plain_ok(last_ok)
        return events

    # -- bytes in --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the port; returns the events of every complete line."""
        if data == b"ok\n" and self._inflight and not (self._rx or self._uncredited_ok_next):
            return self._plain_ok(now)
        continued = self._rx
        *complete, self._rx = (continued + data).split(b"\n")
        if complete or not continued:
            self._rx_since = now
        if len(self._rx) > MAX_REPLY_BYTES:  # noise with no end of line: keep memory bounded
            complete.append(self._rx)
            self._rx = b""
        events: list[Event] = []
        for raw in complete:
            events += self._replies(raw, now)
        return events

    def _replies(self, raw: bytes, now: float) -> list[Event]:
        """One reply line's events and what they make the sender do."""
        events: list[Event] = []
        for reply in parse_reply(raw):
            events.append(reply)
            events += self._handle(reply, now)
        return events

    def _plain_ok(self, now: float) -> list[Event]:
        """The steady state, hundreds of times a second: one ok for the oldest line in flight.

        The same as ``_handle(PLAIN_OK)`` with lines in flight and no uncredited ok due, in every
        mode, without the parsing and the dispatch: both end in ``_acknowledge`` of the oldest
        transmission, which makes the only mode change a plain ok can make (a recovery ends).
        """
        self._silent_rounds = 0
        self._last_reply = self._last_progress = self._quiet_since = now
        acknowledged = self._acknowledge(self._inflight.popleft())
        return [PLAIN_OK] if acknowledged is None else [PLAIN_OK, acknowledged]

    def _handle(self, reply: Reply, now: float) -> list[Event]:
        if type(reply) is MeatPackState:
            return []  # MeatPack's answer to its command bytes: no ok follows, and none is owed
        self._silent_rounds = 0
        self._last_reply = now
        uncredited, self._uncredited_ok_next = self._uncredited_ok_next, False
        if type(reply) is Ok:
            self._progress(now)
            if uncredited and reply.temperatures is None:
                return []  # the ok of a rejected line or of a flushed line's tail: not a new credit
            return self._on_ok(reply)
        if isinstance(reply, (ResendRequest, LineError, Busy)):
            self._progress(now)
        if isinstance(reply, ResendRequest):
            return self._on_resend(reply.line)
        elif isinstance(reply, Unrecognized):
            self.stats.garbled_replies += 1
            self._doubt()
        elif isinstance(reply, UnknownCommand):
            if not any(t.line is not None and t.line.command == reply.command for t in self._inflight):
                # The tail of a line cut in half by a flush: its ok belongs to no line we sent.
                self._uncredited_ok_next = True
                self._doubt()
        elif isinstance(reply, RxBufferFull):
            self._doubt()
        elif isinstance(reply, Start):
            self._halt()
        return []

    def _progress(self, now: float) -> None:
        self._last_progress = self._quiet_since = now

    def _doubt(self) -> None:
        """An ok may have been lost or invented: resynchronise with an M105 and confirm at the end."""
        self._unsure()
        if self._inflight:
            if self._nudge is None:
                self._nudge = _Nudge.RESYNC
        elif self._nudge is _Nudge.RESYNC:
            self._nudge = None

    def _halt(self) -> None:
        """The firmware rebooted: its numbering restarted, so nothing may be sent or re-sent until a new session.

        Re-sending history now would make the firmware ask for line 1 again and replay the job.
        """
        self._reset(self._last_progress)
        self._set_mode(_M.HALTED)

    def _on_ok(self, ok: Ok) -> list[Event]:
        if ok.queue_free is not None and not self.profile.ping_pong:
            self._slots = max(self._slots, ok.queue_free + 1)  # ADVANCED_OK: B counts free command slots
        if not self._inflight:
            if self._mode is _M.PROBING:
                self._set_mode(_M.DOUBTFUL)  # the probe itself was taken (the last line had been lost): ask again
            return []
        if ok is PLAIN_OK:
            return self._pop_through(None)
        if ok.temperatures is not None:
            if self.has_m105_queued():
                return self._pop_through(lambda t: t.line is not None and t.line.command == _M105)
            self._doubt()  # an M105 we had given up for lost, or two replies run together
            return []
        if ok.line is not None:
            if any(t.number == ok.line for t in self._inflight):
                return self._pop_through(lambda t: t.number == ok.line)
            self._doubt()  # an ok for a line not in flight: not a credit
            return []
        return self._pop_through(None)

    def _pop_through(self, is_last: Callable[[_Transmission], bool] | None) -> list[Event]:
        """Acknowledge in-flight lines in send order up to the first ``is_last`` (None: just the oldest)."""
        events: list[Event] = []
        while self._inflight:
            transmission = self._inflight.popleft()
            if (acknowledged := self._acknowledge(transmission)) is not None:
                events.append(acknowledged)
            if is_last is None or is_last(transmission):
                break
            self._unsure()  # skipped over: its own ok was lost
        return events

    def _acknowledge(self, transmission: _Transmission) -> Acknowledged | None:
        """Book one transmission as taken by the firmware; the event for a submitted command."""
        self._inflight_bytes -= transmission.size
        if self._mode is _M.RECOVERING and transmission.seq > self._recovery_seq:
            self._set_mode(_M.DOUBTFUL)  # the firmware took a re-sent line: every stale line is behind us
        line = transmission.line
        if line is None:
            return None
        self._implausible = None  # a line was taken: an odd request before it was noise, not a reboot
        if line.number > self._acked_max:
            self._acked_max = line.number
        if not line.submitted:
            return None
        self.stats.acknowledged += 1
        return Acknowledged(line.command, line.number, line.tag)

    def _on_resend(self, number: int) -> list[Event]:
        self.stats.resend_requests += 1
        if self._mode is _M.HALTED:
            return []  # the firmware rebooted: nothing is re-sent until a new session
        self._uncredited_ok_next = self.profile.ok_after_resend
        if not self._plausible_resend(number):
            repeated, self._implausible = number == self._implausible, number
            if repeated and number <= self._acked_max:
                # The firmware insists, twice with nothing taken between, on a line it had long
                # acknowledged: its numbering went back, so it rebooted and its 'start' was lost.
                self._halt()
                return [Start()]
            self.stats.resend_requests_ignored += 1
            if self._mode is _M.PROBING:
                self._set_mode(_M.DOUBTFUL)  # it answered "where are you?", but garbled: ask again
            self._doubt()
            return []
        self._implausible = None
        recovered = False
        if self._mode is _M.PROBING:
            self._set_mode(_M.DOUBTFUL)  # the answer to the probe: acted on below
        elif self._mode is _M.RECOVERING:
            if number == self._recovery_line:
                # A stale line's complaint, or our re-sent line was garbled or flushed: the quiet timer decides.
                self.stats.resend_requests_ignored += 1
                return []
            # Past the line the recovery started from: the firmware took a copy of it (one the quiet
            # timer gave up for lost, or one whose ok was lost), so every stale line is behind us.
            recovered = number > self._recovery_line
        self._unsure()
        rejected_from = min((t.seq for t in self._inflight if t.number is not None and t.number >= number),
                            default=self._seq + 1)
        self._inflight = deque(t for t in self._inflight if t.seq < rejected_from)
        self._inflight_bytes = sum(t.size for t in self._inflight)
        if recovered:
            # The copy still in flight is rejected, but the ok of the copy taken may still come (it
            # ran late) or was lost: it keeps its place, and an M105's ok T: settles which.
            self._set_mode(_M.DOUBTFUL)
            self._doubt()
        if number >= self._next_number:
            self._resend_cursor = None
            if not self._inflight and not self._unsent():
                self._set_mode(_M.STREAMING)  # the firmware confirmed every line we sent
            else:
                self._set_mode(_M.DOUBTFUL)
            return []
        self._resend_cursor = number
        if recovered:
            return [Resending(number)]  # at the full window: no stale line is left to flush it
        self._set_mode(_M.RECOVERING)
        self._recovery_line = number
        self._recovery_seq = self._seq
        return [Resending(number)]

    def _plausible_resend(self, number: int) -> bool:
        """A number the firmware could really ask for: sent, still in history, not long acknowledged.

        Replies get corrupted too (a ``Resend: 034497`` was seen in the wild); acting on a number
        far behind would re-send lines the firmware already has.
        """
        if number > self._next_number or (number < self._next_number and number not in self._history):
            return False
        return number > self._acked_max - self._slots

    # -- time ------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When ``tick`` next needs to run (None: nothing is waiting on time)."""
        mode = self._mode
        if mode is _M.HALTED:
            return None
        if mode is _M.PROBING:
            return self._probe_sent_at + PROBE_TIMEOUT
        if mode is _M.RECOVERING and self._inflight and self._inflight[-1].seq > self._recovery_seq:
            return self._last_reply + RECOVERY_QUIET
        # With lines in flight, tick looks every TICKLE_QUIET of silence: to tickle, or to call a stall.
        deadline = self._quiet_since + TICKLE_QUIET if self._inflight else None
        if self._rx:
            partial = self._rx_since + PARTIAL_REPLY_TIMEOUT
            deadline = partial if deadline is None else min(deadline, partial)
        return deadline

    def _timeout(self) -> float:
        for transmission in self._inflight:
            if transmission.line is not None and transmission.line.long_running:
                return LONG_COMMAND_TIMEOUT
        return self._stall_timeout

    def tick(self, now: float) -> list[Event]:
        """Run timeouts: a stalled window is abandoned and the firmware asked; silence means it is gone."""
        if self._mode is _M.RECOVERING and self._inflight and self._inflight[-1].seq > self._recovery_seq:
            if now - self._last_reply < RECOVERY_QUIET:
                return []
            lost = self._inflight.pop()  # flushed before the firmware read it: send it again
            self._inflight_bytes -= lost.size
            if lost.number is not None:
                self._resend_cursor = lost.number
            self._recovery_seq = self._seq
            self._last_reply = now
            return []
        if self._rx and now - self._rx_since >= PARTIAL_REPLY_TIMEOUT:
            partial, self._rx = self._rx, b""
            return self._replies(partial, now)
        if self._mode is _M.PROBING:
            if now - self._probe_sent_at < PROBE_TIMEOUT:
                return []
            self._set_mode(_M.DOUBTFUL)  # its answer was lost: the window is abandoned as a stall, and asked again
        else:
            if not self._inflight or now - self._quiet_since < TICKLE_QUIET:
                return []
            self._quiet_since = now
            if self._only_own_m105s_in_flight():
                # Half a second of silence behind nothing but our own M105s: they were answered (and
                # the answers taken by an older one) or lost. Let them go; the probe asks where it is.
                self._inflight.clear()
                self._inflight_bytes = 0
                self._unsure()
                return []
            timeout = self._timeout()
            if now - self._last_progress < timeout:
                # Not during G28, M109...: silence is their nature. At most two M105s unanswered: one
                # may have finished a broken line, the next then gets an answer if anything can.
                if timeout != LONG_COMMAND_TIMEOUT and self._m105_in_flight() < 2 and not self._m105_waiting():
                    self.stats.tickles += 1
                    self._nudge = _Nudge.TICKLE
                return []
        self.stats.stalls += 1
        self._silent_rounds += 1
        if self._silent_rounds > MAX_SILENT_ROUNDS:
            return [NotResponding(now - self._last_reply)]  # no reply of any kind since then
        # Every line in the window is presumed lost or its ok lost: the firmware's numbering will
        # reject what it already has and ask for what it lacks.
        self._inflight.clear()
        self._inflight_bytes = 0
        self._unsure()
        self._progress(now)
        return []
