"""Commands sent ahead of a job's lines, each awaited until the firmware's ``ok`` for it: every one
is tagged, so its acknowledgement finds its waiter; the emergency commands a firmware's emergency
parser takes (M112, M108, M410, M876) go at once and wait for nothing."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from farmctl.errors import FarmctlError
from farmctl.link_ops import Emergency, Submit
from farmctl.protocol import gcode

if TYPE_CHECKING:
    from farmctl.link import SerialLink
    from farmctl.workers.remote_link import WorkerLink

COMMAND_TAG = "cmd"
"""The first part of a command's sender tag, ``("cmd", n)``."""


def sendable(text: str, max_line_length: int) -> str:
    """The command as it will be sent ("" for a comment), or FarmctlError 400 if the firmware would mangle it."""
    try:
        command = gcode.clean(text)
        if command:
            gcode.check_length(command, max_line_length)
    except gcode.GcodeError as exc:
        raise FarmctlError(f"{text!r}: {exc}") from None
    return command


class CommandWaiters:
    """The commands of one printer waiting for their ``ok``."""

    def __init__(self, link: SerialLink | WorkerLink) -> None:
        self._link = link
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._next_tag = 0

    async def send(self, command: str, timeout: float | None, emergency_parser: bool) -> None:
        """Send a clean command ahead of job lines and wait for its ok (long-running ones without a limit)."""
        if gcode.is_emergency(command) and emergency_parser:
            self._link.apply(Emergency(command))
            return
        self._next_tag += 1
        tag = self._next_tag
        future = asyncio.get_running_loop().create_future()
        self._waiting[tag] = future
        self._link.apply(Submit(command, (COMMAND_TAG, tag), urgent=True))
        try:
            await asyncio.wait_for(asyncio.shield(future), None if gcode.is_long_running(command) else timeout)
        finally:
            self._waiting.pop(tag, None)

    def acknowledged(self, number: int) -> None:
        future = self._waiting.get(number)
        if future and not future.done():
            future.set_result(None)

    def fail_all(self, reason: str) -> None:
        """Every command still waiting fails with ``reason`` (409): the printer reset, failed or went away."""
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(FarmctlError(reason, 409))
        self._waiting.clear()
