"""One thread that serves every serial port: one ``poll`` wakeup handles each port that is ready.

A thread per port costs one wakeup per reply per port, and with many busy printers those threads
also queue for the interpreter lock. Here, as in Klipper's host reactor, one thread waits in
``poll`` on every port's file descriptor and one wake pipe, and serves in one pass each port that
has bytes, a timer due, or a change from the event loop. The per-port work is the link's own
(``SerialLink.serve``), so both ways of driving a port share every line of protocol code.

With the C hot loop built (``farmctl.hotloop``), the ports whose senders offer a burst are served
by it instead, all together in one ``Streams`` run that waits on them, the other ports and the wake
pipe at once; a port leaves it when its burst stops, or when the event loop wakes it, and the
reactor then books the burst and serves the port the general way.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from farmctl import hotloop

if TYPE_CHECKING:
    from farmctl.link import SerialLink
    from farmctl.protocol.sender import Burst

log = logging.getLogger(__name__)

GATHER = 0.0
"""Seconds a pass waits after the one before it while several ports are attached, so that one
wakeup serves the replies of several (farm.toml's ``serial_gather_ms``). Off by default: in
bench/farm_load.py, 1 ms cut 16 printers' CPU per line on a 250-lines/s job by 10-20 %, but
starved the planner on a 420-lines/s job (worst printer 0.35 and 1.28 % against 0.07 and 0.16 %),
as every held-back reply holds back the next line too."""


class Reactor:
    """Serves the ports of the links attached to it on one thread, started with the first one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, gather: float = GATHER) -> None:
        self._clock = clock
        self._gather = gather
        self._lock = threading.Lock()
        self._links: dict[int, SerialLink] = {}  # by file descriptor; replaced, never changed in place
        self._woken: set[SerialLink] = set()
        self._poller = select.epoll()  # ports may come and go while the thread waits in it
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poller.register(self._wake_r, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self._streams = hotloop.Streams() if hotloop.streams_chosen() else None
        self._bursts: dict[int, tuple[SerialLink, Burst]] = {}  # by fd: the bursts in ``_streams``

    @property
    def runs_bursts(self) -> bool:
        """The C hot loop serves the ports whose senders offer a burst."""
        return self._streams is not None

    def attach(self, link: SerialLink, fd: int) -> None:
        """Serve ``link``'s port from now on (its first pass runs at once)."""
        with self._lock:
            self._links = {**self._links, fd: link}
            self._poller.register(fd, select.EPOLLIN)
            self._woken.add(link)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="serial reactor", daemon=True)
                self._thread.start()
        self._poke()

    def wake(self, link: SerialLink) -> None:
        """The event loop changed ``link``'s sender: serve it on the next pass."""
        with self._lock:
            self._woken.add(link)
        self._poke()

    def close(self) -> None:
        """Free the wake pipe and the epoll set once every link is closed (a link that would not stop keeps them)."""
        with self._lock:
            if self._links:
                log.warning("serial reactor: %d port(s) still open, left to the process's exit", len(self._links))
                return
            thread = self._thread
        if self._wake_w < 0:
            return  # closed already
        self._poke()
        if thread is not None:
            thread.join(1.0)
        self._poller.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a wakeup is already pending

    def _detach(self, fd: int, link: SerialLink) -> None:
        """Stop watching a link that is done (never one with a burst running: it ends its burst first)."""
        with self._lock:
            if self._links.get(fd) is link:  # not a new port that got the number of one closed meanwhile
                self._links = {other: kept for other, kept in self._links.items() if other != fd}
                try:
                    self._poller.unregister(fd)
                except (KeyError, OSError):
                    pass  # the port is already closed, which took it out of the epoll set
        link.detached()

    def _run(self) -> None:
        last_pass = 0.0
        while True:
            links = self._links  # a snapshot: attach and detach replace the dict
            if not links:
                with self._lock:
                    if not self._links:
                        self._thread = None  # the next attach starts another
                        return
                continue
            try:
                last_pass = self._pass(links, last_pass)
            except Exception:  # a bug here must fail the ports it serves, never leave them hung
                log.exception("serial reactor failed")
                self._fail(links, "internal error in the serial reactor (see the log)")

    def _pass(self, links: dict[int, SerialLink], last_pass: float) -> float:
        """Wait once (in epoll, or in the C loop while bursts run), then serve what is due; returns
        when the wait in epoll last ended (the gather counts from there)."""
        served: set[SerialLink] = set()
        if self._streams is not None and self._start_bursts(links, served):
            ready, woken = self._run_bursts(links, served)
        else:
            deadline = min((link.deadline for link in links.values() if link.deadline is not None), default=None)
            gather = self._gather
            if gather and len(links) > 1 and (wait := last_pass + gather - time.monotonic()) > 0:
                time.sleep(wait)  # real time: it is slept
            ready = self._poller.poll(-1 if deadline is None else max(0.0, deadline - self._clock()))
            last_pass = time.monotonic()
            woken = self._take_woken()
        for fd, mask in ready:
            if fd == self._wake_r:
                drain(self._wake_r)
            elif (link := links.get(fd)) is not None and link not in served:
                served.add(link)
                self._serve(link, fd, mask)
        now = self._clock()
        for fd, link in links.items():
            if link in served or fd in self._bursts:
                continue  # a burst's timers are the C loop's
            if link in woken or (link.deadline is not None and link.deadline <= now):
                self._serve(link, fd, 0)
        return last_pass

    def _fail(self, links: dict[int, SerialLink], reason: str) -> None:
        """Every port this reactor serves is gone for its printer (which reconnects), its burst dropped."""
        if self._streams is not None:
            self._streams = hotloop.Streams()
        self._bursts.clear()
        for fd, link in links.items():
            self._detach(fd, link)
            link.fail(reason)

    def _serve(self, link: SerialLink, fd: int, mask: int) -> None:
        if not link.serve(self._poller, mask):
            self._detach(fd, link)

    def _take_woken(self) -> set[SerialLink]:
        if not self._woken:
            return set()
        with self._lock:
            woken, self._woken = self._woken, set()
        return woken

    def _start_bursts(self, links: dict[int, SerialLink], served: set[SerialLink]) -> bool:
        """Hand the C loop the bursts the links' last passes offered; True if any burst runs.

        A link whose burst went stale meanwhile (the event loop changed its sender) is served again.
        """
        assert self._streams is not None
        for fd, link in links.items():
            if link.planned is not None and fd not in self._bursts:
                burst = link.start_burst()
                if burst is None:
                    served.add(link)
                    self._serve(link, fd, 0)
                else:
                    hotloop.start(self._streams, fd, burst)
                    self._bursts[fd] = (link, burst)
        return bool(self._bursts)

    def _run_bursts(self, links: dict[int, SerialLink],
                    served: set[SerialLink]) -> tuple[list[tuple[int, int]], set[SerialLink]]:
        """One wait in the C loop, on the bursts, the other ports and the wake pipe; books the bursts
        that stopped or whose link was woken. Returns the other ports that are ready, and the woken."""
        assert self._streams is not None
        watch, deadline = [], None
        for fd, link in links.items():
            if fd not in self._bursts:
                watch.append((fd, select.POLLIN | select.POLLOUT if link.wants_write else select.POLLIN))
                if link.deadline is not None and (deadline is None or link.deadline < deadline):
                    deadline = link.deadline
        timeout = -1.0 if deadline is None else max(0.0, deadline - self._clock())
        was_woken, ready, stopped = self._streams.run(self._wake_r, tuple(watch), timeout)
        if was_woken:
            drain(self._wake_r)
        woken = self._take_woken()
        ended = {raw[0] for raw in stopped}
        for fd in [fd for fd, (link, _) in self._bursts.items() if link in woken and fd not in ended]:
            stopped.append(self._streams.stop(fd))  # the event loop wants the sender: its burst stops here
        for raw in stopped:
            fd = raw[0]
            link, burst = self._bursts.pop(fd)
            served.add(link)
            if not link.end_burst(self._poller, burst, hotloop.outcome_of(raw)):
                self._detach(fd, link)
        return ready, woken


def drain(fd: int) -> None:
    """Empty a non-blocking wake pipe."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
