"""What a Sender tells whoever drives it, besides the firmware's own replies (``replies.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from farmctl.protocol.replies import Reply


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
    tickles: int = 0
    stalls: int = 0
    acknowledged: int = 0
