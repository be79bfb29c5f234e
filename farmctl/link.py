"""The serial link: a thread per port moves bytes between pyserial and a Sender, and feeds the print.

A printer's hot path is an ``ok`` in and the next line out, hundreds of times a second. On its own
thread that costs one wakeup of one small loop, where the event loop would spend several times as
much; and a stalled or vanished port, or a busy event loop, never holds up another printer. The
thread also tops up the current print's lines (a ``JobFeed``) and counts their acknowledgements, so
the event loop hears only what the rest of farmctl must see: replies other than a plain ``ok``,
commands' acknowledgements, the feed settling (paused or finished), the port going away.

A ``Reactor`` may serve the port instead of a thread of its own: one thread for every port, each
pass the same ``_pass`` a link's own thread runs.

Whenever the sender offers a ``Burst``, the steady stream goes to a hot loop (``farmctl.hotloop``):
plain oks in and numbered lines out with no Python per line (the C loop also without the
interpreter lock), until a reply needs the general path. A link's own thread runs it in its pass;
a reactor runs the bursts of all its ports in one C loop. Meanwhile the event loop's ``control()``
first stops the burst, so the sender is never changed under it.

The thread and the event loop share one lock. The loop changes the sender or the feed inside
``control()``, which wakes the thread to send what became due; the thread hands events to the loop
at one point (``call_soon_threadsafe``), in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import serial

from farmctl.errors import FarmctlError
from farmctl import hotloop, link_ops
from farmctl.job import FeedSpec, FeedState, JobFeed, JobProgress
from farmctl.profiles import FirmwareProfile
from farmctl.protocol.gcode import ZHeight
from farmctl.protocol.replies import Ok
from farmctl.protocol.events import Acknowledged, Event, SenderStats
from farmctl.protocol.sender import Burst, Sender
from farmctl.reactor import Reactor, drain
from farmctl.terminal import Terminal

log = logging.getLogger(__name__)

_READ_SIZE = 4096
_POLL_WITHOUT_FD = 0.01
"""How often a port with no file descriptor (some pyserial URLs) is looked at when nothing arrives."""
_CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class FeedSettled:
    """The print's feed stopped (held or ended) and the firmware confirmed every line sent."""

    state: FeedState


@dataclass(frozen=True, slots=True)
class PortGone:
    """The port vanished (unplugged, or the device reset its USB interface)."""

    reason: str


LinkEvent = Event | FeedSettled | PortGone


def open_port(port: str, baud: int) -> serial.SerialBase:
    """Open a device path, pty path or pyserial URL for raw use."""
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0, write_timeout=None, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise FarmctlError(f"cannot open {port}: {exc}") from exc


class SerialLink:
    """One printer's port driven by one Sender on a thread of its own; events reach ``on_events`` on the loop."""

    def __init__(self, port: str, baud: int, profile: FirmwareProfile,
                 on_events: Callable[[list[LinkEvent]], None], clock: Callable[[], float] = time.monotonic,
                 reactor: Reactor | None = None) -> None:
        self.port = port
        self.baud = baud
        self.sender = Sender(profile)
        self.advanced_ok_seen = False
        self.terminal = Terminal()
        self._on_events = on_events
        self._clock = clock
        self._lock = threading.Lock()
        self._hot_loop: hotloop.Runner | None = None  # on a thread of its own: the executor of bursts
        self.planned: tuple[Burst, int] | None = None
        """Served by a reactor: the burst its last pass offered, for the reactor's C loop to run."""
        self._bursting = False  # a hot loop runs: the sender is its, not to be changed
        self._controllers = 0  # event-loop calls waiting for a burst to stop: no new one starts
        self._changes = 0  # counts control(): a burst planned before a change is not run
        self._burst_over = threading.Condition(self._lock)
        self._feed: JobFeed | None = None
        self._settled: FeedState | None = None  # the feed state last reported as settled
        self._outbox: list[LinkEvent] = []
        self._delivery_due = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serial: serial.SerialBase | None = None
        self._fd: int | None = None
        self._wake_r = self._wake_w = -1
        self._unwritten = b""
        self._waiting_to_write = False
        self._thread: threading.Thread | None = None
        self._reactor = reactor
        self._served_by: Reactor | None = None  # the reactor serving the open port, if one does
        self._detached = threading.Event()  # set once nothing serves the port any more
        self.deadline: float | None = None
        """When the sender's timers next need a pass (None: not before bytes arrive or the loop asks)."""
        self._closing = False

    @property
    def stats(self) -> SenderStats:
        return self.sender.stats

    # -- opening and closing ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open the port (in a worker thread: a misbehaving USB device can stall it), drop stale input, start."""
        await self.close()  # a port that went away is closed first
        self._loop = asyncio.get_running_loop()
        self._serial = await asyncio.to_thread(open_port, self.port, self.baud)
        try:
            self._serial.reset_input_buffer()  # whatever the firmware printed before we listened
        except (serial.SerialException, OSError):
            pass
        try:
            self._fd = self._serial.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            self._fd = None
        if self._fd is not None:
            os.set_blocking(self._fd, False)
        else:
            self._serial.timeout = _POLL_WITHOUT_FD
        self._closing = False
        self._unwritten = b""
        self._waiting_to_write = False
        self.advanced_ok_seen = False  # learnt again from this session's oks
        self.deadline = self._clock()
        self._detached.clear()
        self.planned = None
        if self._reactor is not None and self._fd is not None:
            self._served_by = self._reactor
            self._reactor.attach(self, self._fd)
            return
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._hot_loop = hotloop.chosen() if self._fd is not None else None
        self._thread = threading.Thread(target=self._run, name=f"serial {self.port}", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is None and self._served_by is None:
            return
        with self._lock:
            self._closing = True
        self._wake()
        await asyncio.to_thread(self._detached.wait, _CLOSE_TIMEOUT)
        if not self._detached.is_set():
            log.warning("%s: the serial link did not stop within %.0f s", self.port, _CLOSE_TIMEOUT)
        self._thread = self._served_by = self._hot_loop = None
        port, self._serial, self._fd = self._serial, None, None
        if port is not None:
            await asyncio.to_thread(_close_quietly, port)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        with self._lock:
            self._outbox.clear()  # nothing the closed port said is news any more

    # -- what the event loop may do ----------------------------------------------------------------

    @contextmanager
    def control(self) -> Iterator[Sender]:
        """Change the sender (or the feed) under the lock, once a burst stopped; on exit the thread sends
        what became due."""
        with self._lock:
            if self._bursting:
                self._controllers += 1
                try:
                    while self._bursting:
                        self._wake()
                        self._burst_over.wait()
                finally:
                    self._controllers -= 1
            self._changes += 1
            yield self.sender
        self._wake()

    def replace_sender(self, profile: FirmwareProfile) -> Sender:
        with self.control():
            self.sender = Sender(profile)
        return self.sender

    def apply(self, *ops: link_ops.LinkOp) -> None:
        """Apply a printer's controls together (``link_ops``); the thread then sends what became due."""
        with self.control() as sender:
            link_ops.apply(ops, sender, self._feed, self._clock())

    def start_feed(self, spec: FeedSpec, z: ZHeight) -> JobProgress:
        """Start feeding a print's lines; ``z`` follows them as they are acknowledged. Returns its progress."""
        feed = spec.feed(z)
        with self.control():
            self._feed = feed
            self._settled = None
        return feed.progress

    def stop_feed(self) -> None:
        """Forget the print's feed (its single exit ran); lines it queued but did not send are dropped."""
        with self.control() as sender:
            if self._feed is not None:
                if self._feed.state is not FeedState.ENDED:
                    self._feed.end()
                sender.discard_pending()
            self._feed = None

    @property
    def feed_settled(self) -> FeedState | None:
        """The feed's state if it stopped and every line sent is confirmed; None while anything is moving."""
        with self._lock:
            return self._settled_state()

    @property
    def feed_failure(self) -> str:
        """Why the feed FAILED (the file changed under the print); "" otherwise."""
        with self._lock:
            return self._feed.failure if self._feed is not None else ""

    def _settled_state(self) -> FeedState | None:
        feed = self._feed
        if feed is None or feed.state is FeedState.FEEDING or not self.sender.idle:
            return None
        return feed.state

    # -- the thread ----------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._served_by is not None:
            self._served_by.wake(self)
        elif self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"\0")
            except (BlockingIOError, OSError):
                pass  # already awake, or closing

    def _run(self) -> None:
        """The port's own thread: wait, then one pass, until the link is done."""
        wait = self._wait_on_fd if self._fd is not None else self._wait_on_serial
        poller = select.poll()
        if self._fd is not None:
            poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while self._pass(poller, lambda: wait(poller, self.deadline)):
            pass
        self._detached.set()

    def serve(self, poller: select.poll | select.epoll, mask: int) -> bool:
        """A reactor's pass for this port (``mask``: what poll said of its fd, 0 if it did not); False once done."""
        return self._pass(poller, lambda: self._on_ready(poller, mask) if mask else b"")

    def detached(self) -> None:
        """The reactor no longer watches the port: ``close`` may close it."""
        self._detached.set()

    @property
    def wants_write(self) -> bool:
        """Bytes wait for the port to take them: a reactor watches it for POLLOUT too."""
        return self._waiting_to_write

    def start_burst(self) -> Burst | None:
        """The reactor takes the burst this link's last pass offered; None if it went stale (serve it again)."""
        planned, self.planned = self.planned, None
        return None if planned is None else self._begin_burst(planned)

    def end_burst(self, poller: select.poll | select.epoll, burst: Burst, outcome: hotloop.Outcome) -> bool:
        """The reactor's C loop ended this link's burst: book it, then a pass with what it left unread."""
        return self._pass(poller, lambda: self._end_burst(poller, burst, outcome))

    def _pass(self, poller: select.poll | select.epoll, read: Callable[[], bytes]) -> bool:
        """Read what arrived, step the sender, write what is due; False once the link is done.

        A burst the step offers runs here on a thread of its own; a reactor runs it in its C loop.
        """
        self.planned = None
        try:
            data = read()
            while True:
                self.deadline, out, burst = self._step(data, self.deadline)
                if out:
                    self._send(poller, out)
                if burst is None or self._unwritten:
                    return True
                if self._served_by is not None:
                    self.planned = burst
                    return True
                data = self._burst(poller, burst)
        except _Closing:
            pass
        except PortGoneError as exc:
            self._post_gone(str(exc))
            _close_quietly(self._serial)  # at once, so a replugged device gets its old name back
        except Exception:  # a bug here must end this printer's link, never the farm
            log.exception("%s: serial link failed", self.port)
            self._post_gone("internal error in the serial link (see the log)")
        return False

    def _step(self, data: bytes, deadline: float | None) -> tuple[float | None, bytes, tuple[Burst, int] | None]:
        """Feed what arrived, run timers if due, top up the print; returns the next deadline, what to
        send, and the steady stream for the hot loop once that is sent (None: serve the next reply here)."""
        with self._lock:
            if self._closing:
                raise _Closing
            sender = self.sender
            now = self._clock()
            if data:
                self.terminal.received(data)
                self._route(sender.receive_data(data, now))
            if deadline is not None and deadline <= now:
                self._route(sender.tick(now))  # tick re-checks: a deadline that moved on is a no-op
            feed = self._feed
            if feed is not None:
                feed.top_up(sender)
            out = sender.data_to_send(now)
            if out:
                self.terminal.sent(out)
            burst = None
            if self._plans_bursts() and not self._controllers and not self.advanced_ok_seen:
                offered = sender.burst(now)
                burst = None if offered is None else (offered, self._changes)
            if feed is not None:
                settled = None if feed.state is FeedState.FEEDING else self._settled_state()
                if settled is not None and settled is not self._settled:
                    self._outbox.append(FeedSettled(settled))
                self._settled = settled
            notify = bool(self._outbox) and not self._delivery_due
            if notify:
                self._delivery_due = True
            deadline = sender.next_deadline()
        if notify:
            self._notify()
        return deadline, out, burst

    def _burst(self, poller: select.poll | select.epoll, planned: tuple[Burst, int]) -> bytes:
        """Run the hot loop on a burst on this thread, then book what it did; returns what it left unread."""
        assert self._hot_loop is not None and self._fd is not None
        burst = self._begin_burst(planned)
        if burst is None:
            return b""
        try:
            outcome = self._hot_loop(self._fd, self._wake_r, burst)
        except BaseException:
            with self._lock:
                self._hand_back()
            raise
        if outcome.stop is hotloop.Stop.WOKEN:
            drain(self._wake_r)  # the step that follows looks at whatever the wake was for
        return self._end_burst(poller, burst, outcome)

    def _plans_bursts(self) -> bool:
        """A hot loop runs this link's bursts: its own thread's, or its reactor's C loop."""
        served_by = self._served_by
        return self._hot_loop is not None if served_by is None else served_by.runs_bursts

    def _begin_burst(self, planned: tuple[Burst, int]) -> Burst | None:
        """From here the burst's loop owns the sender, and ``control()`` waits for it to stop.

        A burst planned before the event loop's latest change, or while the link closes, is dropped
        (None): the next step plans again, or ends the link.
        """
        burst, changes = planned
        with self._lock:
            if changes != self._changes or self._closing:
                return None
            self._bursting = True
        return burst

    def _hand_back(self) -> None:
        """The burst is over: the sender is the event loop's again (the caller holds the lock)."""
        self._bursting = False
        self._burst_over.notify_all()

    def _end_burst(self, poller: select.poll | select.epoll, burst: Burst, outcome: hotloop.Outcome) -> bytes:
        """Book what the loop did with ``burst`` and hand the sender back (in one hold of the lock, so
        no change comes between); returns what it read and did not take."""
        with self._lock:
            events = self.sender.burst_done(outcome.sent, outcome.oks, self._clock() - outcome.since_last_ok)
            self._record_burst(burst, outcome)
            self._route(events)
            self._hand_back()
        if outcome.unwritten:
            end = burst.ends[outcome.sent - 1]
            self._unwritten = burst.lines[end - outcome.unwritten:end]
            self._flush(poller)
        if outcome.stop is hotloop.Stop.GONE:
            raise PortGoneError(outcome.error)
        return outcome.rest

    def _record_burst(self, burst: Burst, outcome: hotloop.Outcome) -> None:
        """The terminal's record of a burst, in wire order: each line sent after the oks read before it."""
        terminal, lines, ends = self.terminal, burst.lines, burst.ends
        taken = begin = 0
        for index, before in enumerate(outcome.oks_before):
            if before > taken:
                terminal.received(b"ok\n" * (before - taken))
                taken = before
            terminal.sent(lines[begin:ends[index]])
            begin = ends[index]
        if outcome.oks > taken:
            terminal.received(b"ok\n" * (outcome.oks - taken))

    def _route(self, events: list[Event]) -> None:
        """Keep the per-line events on this thread; everything else goes to the event loop."""
        feed = self._feed
        outbox = self._outbox
        for event in events:
            kind = type(event)
            if kind is Ok:
                if event.line is not None:
                    self.advanced_ok_seen = True
                if event.temperatures is None:
                    continue
            elif kind is Acknowledged and feed is not None and feed.acknowledge(event, self.sender.stats.lines_resent):
                continue
            outbox.append(event)

    def _notify(self) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to tell

    def _deliver(self) -> None:
        with self._lock:
            events, self._outbox = self._outbox, []
            self._delivery_due = False
        if events:
            self._on_events(events)

    def fail(self, reason: str) -> None:
        """What serves the port failed: the port is gone for the printer, and no burst runs any more."""
        with self._lock:
            self._hand_back()
        self._post_gone(reason)

    def _post_gone(self, reason: str) -> None:
        log.warning("%s: %s", self.port, reason)
        with self._lock:
            self._outbox.append(PortGone(reason))
            self._delivery_due = True
        self._notify()

    # -- bytes in and out ----------------------------------------------------------------------------

    def _wait_on_fd(self, poller: select.poll, deadline: float | None) -> bytes:
        """Sleep until bytes arrive, the loop wakes us or the deadline passes; returns what was read."""
        timeout = None if deadline is None else max(0, int((deadline - self._clock()) * 1000) + 1)
        data = b""
        for fd, mask in poller.poll(timeout):
            if fd == self._wake_r:
                drain(self._wake_r)
            else:
                data = self._on_ready(poller, mask)
        return data

    def _on_ready(self, poller: select.poll | select.epoll, mask: int) -> bytes:
        """What poll said of the port: read what arrived, write what waited for room."""
        data = b""
        if mask & select.POLLIN:
            data = self._read_fd()
        elif mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            raise PortGoneError("the port closed")
        if mask & select.POLLOUT:
            self._flush(poller)
        return data

    def _read_fd(self) -> bytes:
        assert self._fd is not None
        try:
            data = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise PortGoneError(f"read failed: {exc}") from exc
        if not data:
            raise PortGoneError("the port closed")
        return data

    def _wait_on_serial(self, poller: select.poll, deadline: float | None) -> bytes:
        """For ports without a file descriptor (rfc2217://): pyserial's own read, ``_POLL_WITHOUT_FD`` at a time.

        The timeout is set once, at open: setting it reconfigures the port, a network round trip for RFC 2217.
        """
        assert self._serial is not None
        try:
            return self._serial.read(max(1, self._serial.in_waiting))
        except (serial.SerialException, OSError, TypeError) as exc:
            raise PortGoneError(f"read failed: {exc}") from exc

    def _send(self, poller: select.poll | select.epoll, data: bytes) -> None:
        if self._fd is None:
            try:
                assert self._serial is not None
                self._serial.write(data)
            except (serial.SerialException, OSError) as exc:
                raise PortGoneError(f"write failed: {exc}") from exc
            return
        self._unwritten += data
        self._flush(poller)

    def _flush(self, poller: select.poll | select.epoll) -> None:
        """Write what the port takes now; the rest waits for POLLOUT (a port with flow control held)."""
        assert self._fd is not None
        try:
            written = os.write(self._fd, self._unwritten)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise PortGoneError(f"write failed: {exc}") from exc
        self._unwritten = self._unwritten[written:]
        if self._waiting_to_write != bool(self._unwritten):
            self._waiting_to_write = bool(self._unwritten)
            poller.modify(self._fd, select.POLLIN | select.POLLOUT if self._unwritten else select.POLLIN)


class PortGoneError(Exception):
    """Raised inside the link's thread when the port can no longer be read or written."""


class _Closing(Exception):
    """Raised inside the link's thread when ``close()`` asked it to stop."""


def _close_quietly(port: serial.SerialBase | None) -> None:
    if port is None:
        return
    try:
        port.close()
    except (serial.SerialException, OSError):
        pass
