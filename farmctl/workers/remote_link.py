"""A printer's link to a port that a serial worker serves: the ``SerialLink`` interface, as messages.

The printer calls it as it would call its own ``SerialLink``. Controls go to the worker as they are
made (``messages.Control``), and the worker's updates come back with the events the printer must
hear, the feed's state and the telemetry that this side mirrors (progress, Z, counters, terminal),
so reads never wait for the worker. A settled feed counts only if the update had seen every command
sent since: a pause's "settled" that a resume overtook is not taken for a pause.

If the worker dies, the printer hears ``PortGone`` with the reason, as for an unplugged port: its
print fails and is never resumed blindly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from farmctl.errors import FarmctlError
from farmctl.job import FeedSpec, FeedState, JobProgress
from farmctl.link import FeedSettled, LinkEvent, PortGone
from farmctl.link_ops import LinkOp
from farmctl.profiles import FirmwareProfile
from farmctl.protocol.events import SenderStats
from farmctl.protocol.gcode import ZHeight
from farmctl.terminal import Terminal
from farmctl.workers import messages as m

if TYPE_CHECKING:
    from farmctl.workers.pool import WorkerProcess

OPEN_TIMEOUT = 30.0
CLOSE_TIMEOUT = 5.0


class WorkerLink:
    """One printer's port, served by ``worker``; all methods run on the main process's event loop."""

    def __init__(self, worker: WorkerProcess, link: int, port: str, baud: int, profile: FirmwareProfile,
                 on_events: Callable[[list[LinkEvent]], None]) -> None:
        self.port = port
        self.baud = baud
        self.stats = SenderStats()
        self.advanced_ok_seen = False
        self.terminal = Terminal()
        self._worker = worker
        self._id = link
        self._profile = profile
        self._on_events = on_events
        self._open = False
        self._answer: asyncio.Future[m.Opened | m.Closed] | None = None
        self._seq = 0  # commands sent
        self._seen = 0  # commands the last update had seen applied
        self._settled: FeedState | None = None
        self._told: FeedState | None = None  # the settled state last passed on to the printer
        self.feed_failure = ""
        self._progress: JobProgress | None = None
        self._z: ZHeight | None = None
        self._feed_seq = 0  # the StartFeed command of the current feed

    # -- opening and closing -----------------------------------------------------------------------

    async def open(self) -> None:
        await self.close()
        worker = await self._worker.running()
        answer = await self._ask(worker, m.Open(self._id, self.port, self.baud, self._profile), OPEN_TIMEOUT)
        if not isinstance(answer, m.Opened) or answer.error:
            raise FarmctlError(answer.error if isinstance(answer, m.Opened) else f"cannot open {self.port}")
        self.advanced_ok_seen = False
        self._open = True

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._worker.alive:
            try:
                await self._ask(self._worker, m.Close(self._id), CLOSE_TIMEOUT)
            except FarmctlError:
                pass  # the worker died or hangs: its ports close with it

    async def _ask(self, worker: WorkerProcess, message: m.Command, timeout: float) -> m.Opened | m.Closed | None:
        self._answer = asyncio.get_running_loop().create_future()
        worker.send(message)
        try:
            return await asyncio.wait_for(self._answer, timeout)
        except asyncio.TimeoutError:
            raise FarmctlError(f"{self.port}: the serial worker did not answer within {timeout:.0f} s") from None
        finally:
            self._answer = None

    # -- what the printer may do ---------------------------------------------------------------------

    def apply(self, *ops: LinkOp) -> None:
        self._command(lambda seq: m.Control(self._id, seq, ops))

    def replace_sender(self, profile: FirmwareProfile) -> None:
        self._profile = profile
        self._command(lambda seq: m.UseProfile(self._id, seq, profile))

    def start_feed(self, spec: FeedSpec, z: ZHeight) -> JobProgress:
        self._progress = JobProgress(spec.summary.path, spec.summary.size, spec.summary.commands)
        self._z, self._told, self.feed_failure = z, None, ""
        self._feed_seq = self._command(lambda seq: m.StartFeed(self._id, seq, spec, z.z, z.relative))
        return self._progress

    def stop_feed(self) -> None:
        self._progress = self._z = None
        self._command(lambda seq: m.StopFeed(self._id, seq))

    @property
    def feed_settled(self) -> FeedState | None:
        """The feed's state if the worker said it settled after applying every command sent; else None."""
        return self._settled if self._seen == self._seq else None

    def _command(self, make: Callable[[int], m.Command]) -> int:
        self._seq += 1
        if self._open:
            self._worker.send(make(self._seq))
        else:
            self._seen = self._seq  # a closed port applies nothing: nothing is outstanding
        return self._seq

    # -- what the worker says ----------------------------------------------------------------------

    def answered(self, answer: m.Opened | m.Closed) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(answer)

    def updated(self, update: m.Update) -> None:
        if not self._open:
            return  # what a closed port said is no news
        telemetry = update.telemetry
        self.stats, self.advanced_ok_seen = telemetry.stats, telemetry.advanced_ok_seen
        if telemetry.terminal:
            self.terminal.add_chunks(telemetry.terminal)
        current = update.seq >= self._feed_seq  # not a report about an earlier print's feed
        if current and self._progress is not None and telemetry.progress is not None:
            progress = self._progress
            progress.acknowledged, progress.offset, progress.resends = telemetry.progress
        if current and self._z is not None and telemetry.z is not None:
            self._z.z, self._z.relative = telemetry.z
        self._seen, self._settled, self.feed_failure = update.seq, update.settled, update.failure
        events = [event for event in update.events if type(event) is not FeedSettled]
        settled = self.feed_settled
        if settled is not None and settled is not self._told:
            events.append(FeedSettled(settled))
        self._told = settled
        if events:
            self._on_events(events)

    def worker_died(self, reason: str) -> None:
        """The worker serving this port is gone: the printer hears it as a port gone, with the reason."""
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(FarmctlError(f"{self.port}: {reason}"))
        if self._open:
            self._open = False
            self._seen = self._seq
            self._on_events([PortGone(reason)])
