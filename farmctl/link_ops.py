"""What a printer asks of its serial link, as records: the sender's and the print feed's controls.

A printer never reaches into its sender or its feed. It hands the link a few of these at once, and
the link applies them together under its lock (``apply``), so nothing is sent between a cancel's
end of the feed and its cooldown commands. The link may be in this process, or in a serial worker
after a trip through its channel (``farmctl.workers.messages``): either way this one function runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from farmctl.job import JobFeed
from farmctl.protocol.meatpack import MeatPack
from farmctl.protocol.sender import Sender


@dataclass(frozen=True, slots=True)
class Submit:
    """Queue a command; ``urgent`` puts it ahead of the print's lines. Its ``Acknowledged`` carries ``tag``."""

    command: str
    tag: Any = None
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Emergency:
    """Send a command past the queue, for the firmware's emergency parser (M112, M410, M876)."""

    command: str


@dataclass(frozen=True, slots=True)
class StartSession:
    """Number lines from 0 again (M110 N0): after opening the port or a firmware reset."""


@dataclass(frozen=True, slots=True)
class PackWithMeatPack:
    """Pack lines from now on: the firmware said it unpacks MeatPack."""


@dataclass(frozen=True, slots=True)
class DiscardPending:
    """Drop the queued lines not sent yet (a cancel)."""


@dataclass(frozen=True, slots=True)
class PollTemperatures:
    """An M105, unless one is queued already: a slow firmware never collects a backlog of them."""


@dataclass(frozen=True, slots=True)
class HoldFeed:
    """No more of the print's lines until released (a pause)."""


@dataclass(frozen=True, slots=True)
class ReleaseFeed:
    """Feed the print's lines again."""


@dataclass(frozen=True, slots=True)
class EndFeed:
    """The print's remaining lines are never read (a cancel)."""


@dataclass(frozen=True, slots=True)
class SetOffsets:
    """The heaters' temperature offsets the print's next M104/M109/M140/M190 lines get."""

    offsets: tuple[tuple[str, float], ...]


LinkOp = (Submit | Emergency | StartSession | PackWithMeatPack | DiscardPending | PollTemperatures | HoldFeed
          | ReleaseFeed | EndFeed | SetOffsets)


def apply(ops: tuple[LinkOp, ...], sender: Sender, feed: JobFeed | None, now: float) -> None:
    """Apply ``ops`` in order (the caller holds the link's lock); a feed's op with no print does nothing."""
    for op in ops:
        kind = type(op)
        if kind is Submit:
            sender.submit(op.command, op.tag, urgent=op.urgent)  # type: ignore[union-attr]
        elif kind is Emergency:
            sender.emergency(op.command, now)  # type: ignore[union-attr]
        elif kind is StartSession:
            sender.start_session(now)
        elif kind is PackWithMeatPack:
            sender.pack_with(MeatPack())
        elif kind is DiscardPending:
            sender.discard_pending()
        elif kind is PollTemperatures:
            if not sender.has_m105_queued():
                sender.submit("M105", None, urgent=True)
        elif kind in _FEED_OPS:
            if feed is not None:
                _FEED_OPS[kind](feed, op)
        else:
            raise TypeError(f"not a link operation: {op!r}")


def _set_offsets(feed: JobFeed, op: SetOffsets) -> None:
    feed.temperature_offsets = dict(op.offsets)


_FEED_OPS: dict[type, Callable[[JobFeed, Any], None]] = {
    HoldFeed: lambda feed, _: feed.hold(),
    ReleaseFeed: lambda feed, _: feed.release(),
    EndFeed: lambda feed, _: feed.end(),
    SetOffsets: _set_offsets,
}
