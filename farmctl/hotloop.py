"""The steady stream's inner loop: plain ``ok`` s in, numbered lines out, until anything else happens.

While a print streams with nothing unusual going on, every reply is ``ok`` and every answer to it is
the next line, already numbered. The sender hands that work over as a ``Burst`` (the lines, the
window, when its timers are next due); a loop here does it with nothing but ``poll``, ``read`` and
``write`` per line, the way Klipper's serial queue runs in C, and stops at the first reply that is
not a plain ``ok``, when time is up, when the event loop wakes the port, or once every line is out.
The link then books the outcome in the sender (``Sender.burst_done``), hands it what was left unread
and goes on along the general path. So the rules stay in the sans-I/O sender; this is an executor.

Two executors keep the same contract for one port: the C loop (``run_c``), compiled from
``_hotloop.c`` at install where a C compiler and Python's headers are (it runs without the
interpreter lock), and ``run_python`` below, its fallback. The C loop's ``Streams`` also runs the
bursts of many ports at once, for the reactor: one ``poll`` on all of them, the ports Python serves
meanwhile and the wake pipe, returning only the bursts that stopped. ``FARMCTL_HOT_LOOP`` = ``c``,
``python`` or ``off`` chooses (default: ``c`` where it was built, else ``python``); ``off`` serves
every reply on the general path, and so does a reactor with anything but ``c``.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from enum import IntEnum
from typing import NamedTuple

from farmctl.protocol.sender import Burst


class Stop(IntEnum):
    """Why a burst ended (the C loop returns the same numbers)."""

    ALL_SENT = 0   # every line went out: the sender has more, or the rest of the print is in flight
    WOKEN = 1      # the event loop wants the sender
    QUIET = 2      # the sender's timers are due
    OTHER = 3      # a reply that is not a plain ok, or one with nothing in flight: the general path's
    BLOCKED = 4    # the port took only part of a line (flow control): the rest waits for POLLOUT
    GONE = 5       # the port failed or closed


class Outcome(NamedTuple):
    stop: Stop
    sent: int                    # lines of the burst written (the last perhaps in part: ``unwritten``)
    unwritten: int               # bytes of the last line sent that the port did not take
    oks: int                     # plain oks taken, each for the oldest line in flight
    since_last_ok: float         # seconds between the last of them and the end of the burst
    rest: bytes                  # what was read and not taken: the general path reads it next
    oks_before: tuple[int, ...]  # per line sent, the oks taken before it: the terminal's wire order
    error: str                   # GONE: why


Runner = Callable[[int, int, Burst], Outcome]

try:
    from farmctl._hotloop import Streams  # type: ignore[import-not-found]
except ImportError:  # not built: no compiler or no Python headers at install
    Streams = None

_READ_SIZE = 4096


def _is_ok(line: bytes) -> bool:
    return line == b"ok" or line == b"ok\r"


def run_python(fd: int, wake_fd: int, burst: Burst) -> Outcome:
    """The hot loop in Python: the contract of ``_hotloop.run``, and the fallback where it was not built."""
    lines, ends = burst.lines, burst.ends
    sizes = list(burst.in_flight)
    in_flight = sum(sizes)
    first = 0  # sizes[first:] are in flight
    slots, max_bytes, quiet_after_ok = burst.slots, burst.max_bytes, burst.quiet_after_ok
    start = time.monotonic()
    deadline = None if burst.quiet is None else start + burst.quiet
    last_ok = start
    sent = oks = 0
    oks_before: list[int] = []
    buffer = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(wake_fd, select.POLLIN)

    def outcome(stop: Stop, unwritten: int = 0, rest: bytes = b"", error: str = "") -> Outcome:
        return Outcome(stop, sent, unwritten, oks, time.monotonic() - last_ok, rest, tuple(oks_before), error)

    while True:
        while sent < len(ends):
            begin = ends[sent - 1] if sent else 0
            size = ends[sent] - begin
            count = len(sizes) - first
            if count and (count >= slots or in_flight + size > max_bytes):
                break
            try:
                written = os.write(fd, lines[begin:ends[sent]])
            except BlockingIOError:
                written = 0
            except OSError as exc:
                return outcome(Stop.GONE, error=f"write failed: {exc}")
            oks_before.append(oks)
            sizes.append(size)
            in_flight += size
            sent += 1
            if written < size:
                return outcome(Stop.BLOCKED, size - written, buffer)
        if sent == len(ends):
            return outcome(Stop.ALL_SENT, rest=buffer)
        timeout = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000) + 1)
        ready = poller.poll(timeout)
        if not ready:
            if deadline is not None and time.monotonic() >= deadline:
                return outcome(Stop.QUIET, rest=buffer)
            continue
        for ready_fd, mask in ready:
            if ready_fd == wake_fd:
                return outcome(Stop.WOKEN, rest=buffer)
            if not mask & select.POLLIN:
                return outcome(Stop.GONE, rest=buffer, error="the port closed")
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            continue
        except OSError as exc:
            return outcome(Stop.GONE, rest=buffer, error=f"read failed: {exc}")
        if not data:
            return outcome(Stop.GONE, rest=buffer, error="the port closed")
        buffer += data
        while (end := buffer.find(b"\n")) >= 0:
            if not _is_ok(buffer[:end]) or len(sizes) == first:
                return outcome(Stop.OTHER, rest=buffer)
            buffer = buffer[end + 1:]
            in_flight -= sizes[first]
            first += 1
            oks += 1
            last_ok = time.monotonic()
            deadline = last_ok + quiet_after_ok
        if buffer and not b"ok\r".startswith(buffer):
            return outcome(Stop.OTHER, rest=buffer)  # a longer reply is on its way


def outcome_of(raw: tuple) -> Outcome:
    """An outcome as ``_hotloop.Streams`` reports it: (fd, stop, ..., errno, negative for a write)."""
    _, stop, sent, unwritten, oks, since, rest, before, errno = raw
    error = ""
    if stop == Stop.GONE:
        error = f"{'write' if errno < 0 else 'read'} failed: {os.strerror(abs(errno))}" if errno else "the port closed"
    return Outcome(Stop(stop), sent, unwritten, oks, since, rest, before, error)


def start(streams: Streams, fd: int, burst: Burst) -> None:
    """Add ``fd``'s burst to the C loop's set."""
    streams.start(fd, burst.lines, burst.ends, burst.in_flight, burst.slots, burst.max_bytes,
                  -1.0 if burst.quiet is None else burst.quiet, burst.quiet_after_ok)


def run_c(fd: int, wake_fd: int, burst: Burst) -> Outcome:
    """The C loop with one port: the contract of ``run_python``."""
    streams = Streams()
    start(streams, fd, burst)
    _, _, stopped = streams.run(wake_fd, (), -1.0)
    return outcome_of(stopped[0] if stopped else streams.stop(fd))


COMPILED: Runner | None = run_c if Streams is not None else None
"""The C loop, None where it was not built."""

RUNNERS: dict[str, Runner | None] = {"c": COMPILED, "python": run_python, "off": None}


def chosen() -> Runner | None:
    """The executor ``FARMCTL_HOT_LOOP`` names (default: the C loop if built, else Python); None: off."""
    name = os.environ.get("FARMCTL_HOT_LOOP", "").strip().lower()
    if name not in RUNNERS:
        return COMPILED or run_python
    if name == "c" and COMPILED is None:
        return run_python  # asked for but not built: the fallback keeps the same contract
    return RUNNERS[name]


def streams_chosen() -> bool:
    """A reactor runs its ports' bursts in the C loop: built, and not ruled out by ``FARMCTL_HOT_LOOP``."""
    return COMPILED is not None and chosen() is COMPILED
