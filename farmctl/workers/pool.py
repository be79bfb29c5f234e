"""The farm's serial workers: processes that each serve a share of the printers' ports.

Printers are dealt to the workers in turn and stay with their worker's slot. A worker that dies
(killed, out of memory, a crash) fails the prints of every printer it served, each with the reason,
as an unplugged port would, and never resumes them; a new process takes its slot at once (after a
pause that doubles, up to ``MAX_RESTART_PAUSE``, if it keeps dying young), and the printers
reconnect to it as they would to a replugged port.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from farmctl.errors import FarmctlError
from farmctl.link import LinkEvent
from farmctl.profiles import FirmwareProfile
from farmctl.reactor import GATHER
from farmctl.workers import messages as m
from farmctl.workers.remote_link import WorkerLink

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 3.0
YOUNG = 10.0
"""A worker that dies sooner than this after its start waits before the next one starts."""
MAX_RESTART_PAUSE = 30.0


class WorkerProcess:
    """One slot: the worker process serving it now, started on first use and after each death."""

    def __init__(self, slot: int, gather: float = GATHER) -> None:
        self.slot = slot
        self._gather = gather
        self.links: dict[int, WorkerLink] = {}
        self.pid: int | None = None
        self.deaths = 0
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None
        self._closing = False
        self._started_at = 0.0
        self._pause = 0.0
        self._restarting: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._writer is not None

    async def running(self) -> WorkerProcess:
        """This slot with its process running (started if need be); FarmctlError if it cannot start."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self.alive:
                if self._closing:
                    raise FarmctlError("the serial workers are stopping")
                await asyncio.wait_for(self._start(), START_TIMEOUT)
        return self

    async def _start(self) -> None:
        wait = self._pause - (time.monotonic() - self._started_at)
        if wait > 0:
            await asyncio.sleep(wait)
        ours, theirs = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "farmctl.workers.worker", str(theirs.fileno()), str(self.slot), repr(self._gather),
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise FarmctlError(f"cannot start a serial worker: {exc}") from exc
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        self.pid, self._started_at = self._process.pid, time.monotonic()
        self._reading = asyncio.create_task(self._read(reader, self._process), name=f"serial worker {self.slot}")
        log.info("serial worker %d started (pid %d)", self.slot, self.pid)

    def send(self, message: m.Command) -> None:
        if self._writer is not None:
            m.write(self._writer, message)

    async def _read(self, reader: asyncio.StreamReader, process: asyncio.subprocess.Process) -> None:
        while (report := await m.read(reader)) is not None:
            if isinstance(report, m.Logged):
                logging.getLogger(report.logger).log(report.level, "serial worker %d: %s", self.slot, report.text)
                continue
            link = self.links.get(report.link)  # type: ignore[union-attr]
            if link is None:
                continue
            if isinstance(report, m.Update):
                link.updated(report)
            else:
                link.answered(report)  # type: ignore[arg-type]
        code = await process.wait()
        self._gone(code)

    def _gone(self, code: int) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._closing:
            return
        self.deaths += 1
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        reason = f"the serial worker serving it (pid {self.pid}) died, {how}; the print is lost and will not be resumed"
        log.warning("serial worker %d: %s", self.slot, reason)
        young = time.monotonic() - self._started_at < YOUNG
        self._pause = min(MAX_RESTART_PAUSE, max(1.0, self._pause * 2)) if young else 0.0
        for link in list(self.links.values()):
            link.worker_died(reason)
        self._restarting = asyncio.create_task(self._restart(), name=f"restart serial worker {self.slot}")

    async def _restart(self) -> None:
        try:
            await self.running()
        except (FarmctlError, asyncio.TimeoutError) as exc:
            log.warning("serial worker %d did not restart: %s (tried again when a printer connects)", self.slot, exc)

    async def stop(self) -> None:
        """Close the channel (the worker closes its ports and exits), then make sure it did."""
        self._closing = True
        if self._restarting is not None:
            self._restarting.cancel()
            await asyncio.gather(self._restarting, return_exceptions=True)
        process, writer, self._writer = self._process, self._writer, None
        if writer is not None:
            writer.close()
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                log.warning("serial worker %d did not stop within %.0f s: killed", self.slot, STOP_TIMEOUT)
                process.send_signal(signal.SIGKILL)
                await process.wait()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)


class SerialWorkers:
    """``count`` worker processes serving the farm's ports, dealt out in turn as printers are made."""

    def __init__(self, count: int, gather: float = GATHER) -> None:
        if count < 1:
            raise ValueError("at least one serial worker")
        self.processes = [WorkerProcess(slot, gather) for slot in range(count)]
        self._links = 0

    def link(self, port: str, baud: int, profile: FirmwareProfile,
             on_events: Callable[[list[LinkEvent]], None]) -> WorkerLink:
        worker = self.processes[self._links % len(self.processes)]
        self._links += 1
        link = WorkerLink(worker, self._links, port, baud, profile, on_events)
        worker.links[self._links] = link
        return link

    async def start(self) -> None:
        """Start every worker that has printers to serve (else each starts when its first printer connects)."""
        await asyncio.gather(*(worker.running() for worker in self.processes if worker.links))

    @property
    def pids(self) -> list[int]:
        """The running workers' process ids (for a benchmark's CPU and memory count, or a test's kill -9)."""
        return [worker.pid for worker in self.processes if worker.alive and worker.pid is not None]

    async def close(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self.processes))


def default_count(printers: int, cpus: int | None = None) -> int:
    """How many workers a farm gets without ``serial_workers`` in farm.toml (see the README's figures)."""
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    return 0 if cpus < 3 or printers < 8 else min(cpus - 1, (printers + 7) // 8)
