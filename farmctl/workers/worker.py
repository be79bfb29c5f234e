"""A serial worker: a process of its own that serves some of the farm's ports.

It runs what ``farmctl serve`` runs in-process for every port (a reactor thread and the links'
senders and print feeds), so a farm's serial work spreads over several cores; the queue, the store
and HTTP stay in the main process. Commands arrive on the channel (``messages``), each applied at
once; a link's events go back as they are delivered, each with the state it leaves, and its
telemetry (progress, counters, terminal) at most every ``TELEMETRY_INTERVAL`` otherwise.

When the main process goes away (the channel's end, also after a kill -9 of it), every port is
closed and the worker exits.

    python -m farmctl.workers.worker FD SLOT     (FD: the worker's end of the socket pair)
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from dataclasses import dataclass, replace

from farmctl.errors import FarmctlError
from farmctl.job import JobProgress
from farmctl.link import LinkEvent, SerialLink
from farmctl.protocol.gcode import ZHeight
from farmctl.reactor import Reactor
from farmctl.workers import messages as m

log = logging.getLogger(__name__)

TELEMETRY_INTERVAL = 0.2
"""Seconds between reports of a busy link's progress and terminal when it has no events to carry them."""


@dataclass(slots=True)
class _Served:
    """A link this worker serves, and what its last report carried."""

    link: SerialLink
    seq: int = 0
    progress: JobProgress | None = None
    z: ZHeight | None = None
    terminal_seq: int = 0
    reported_acks: int = -1


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gather: float) -> None:
        self._reader, self._writer = reader, writer
        self._reactor = Reactor(gather=gather)
        self._served: dict[int, _Served] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        telemetry = asyncio.create_task(self._report_telemetry())
        try:
            while (message := await m.read(self._reader)) is not None:
                self._handle(message)  # type: ignore[arg-type]
        finally:
            telemetry.cancel()
            await asyncio.gather(*(served.link.close() for served in self._served.values()))
            self._reactor.close()

    def _handle(self, message: m.Command) -> None:
        if isinstance(message, m.Open):
            self._spawn(self._open(message))
            return
        if isinstance(message, m.Close):
            self._spawn(self._close(message.link))
            return
        served = self._served.get(message.link)
        if served is None:
            return  # a printer's controls for a port this worker never opened (it was restarted): moot
        link = served.link
        if isinstance(message, m.Control):
            link.apply(*message.ops)
        elif isinstance(message, m.UseProfile):
            link.replace_sender(message.profile)
        elif isinstance(message, m.StartFeed):
            served.z = ZHeight(message.z, message.relative)
            served.progress = link.start_feed(message.spec, served.z)
        elif isinstance(message, m.StopFeed):
            link.stop_feed()
            served.progress = served.z = None
        served.seq = message.seq
        self._report(message.link, ())

    def _spawn(self, work: object) -> None:
        task = asyncio.ensure_future(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, message: m.Open) -> None:
        served = self._served.get(message.link)
        if served is None:
            link = SerialLink(message.port, message.baud, message.profile,
                              lambda events: self._report(message.link, tuple(events)), reactor=self._reactor)
            served = self._served[message.link] = _Served(link)
        served.link.baud = message.baud
        try:
            await served.link.open()
        except FarmctlError as exc:
            m.write(self._writer, m.Opened(message.link, exc.message))
            return
        m.write(self._writer, m.Opened(message.link))

    async def _close(self, link: int) -> None:
        served = self._served.get(link)
        if served is not None:
            await served.link.close()
        m.write(self._writer, m.Closed(link))

    def _report(self, link: int, events: tuple[LinkEvent, ...]) -> None:
        """Send a link's events with its state and telemetry as they are now (on the worker's event loop)."""
        served = self._served[link]
        serial = served.link
        chunks = tuple(serial.terminal.chunks_since(served.terminal_seq))
        if chunks:
            served.terminal_seq = chunks[-1][0]
        progress, z = served.progress, served.z
        stats = serial.stats
        served.reported_acks = stats.acknowledged
        telemetry = m.Telemetry(replace(stats), serial.advanced_ok_seen, chunks,
                                None if progress is None else (progress.acknowledged, progress.offset, progress.resends),
                                None if z is None else (z.z, z.relative))
        m.write(self._writer, m.Update(link, served.seq, serial.feed_settled, serial.feed_failure, telemetry, events))

    async def _report_telemetry(self) -> None:
        while True:
            await asyncio.sleep(TELEMETRY_INTERVAL)
            for link, served in list(self._served.items()):
                if served.reported_acks != served.link.stats.acknowledged \
                        or served.terminal_seq != served.link.terminal.seq:
                    self._report(link, ())


class _ToMainProcess(logging.Handler):
    """The worker's log records go to the main process, which writes them to the farm's log."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        super().__init__(logging.INFO)
        self._loop = asyncio.get_running_loop()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        message = m.Logged(record.levelno, record.name, self.format(record))
        try:
            self._loop.call_soon_threadsafe(m.write, self._writer, message)  # the reactor thread logs too
        except RuntimeError:
            pass  # the loop has ended: the worker is exiting


async def _main(fd: int, gather: float) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    root = logging.getLogger()
    root.handlers[:] = [_ToMainProcess(writer)]
    root.setLevel(logging.INFO)
    await Worker(reader, writer, gather).run()


def main() -> None:
    # Ctrl-C, or a service manager's SIGTERM to the whole group, is for the main process: it ends its
    # prints and closes the channel, which ends this worker; were the worker to die first, the farm would
    # see a dead worker and fail its prints for that reason instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)  # until the channel is up
    asyncio.run(_main(int(sys.argv[1]), float(sys.argv[3])))  # the channel, the slot (for ps), the gather


if __name__ == "__main__":
    main()
