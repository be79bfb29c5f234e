"""The sender's mode: what it may send and how it reads an ``ok``, as a table of allowed changes.

Every doubt the sender can have about where the firmware is comes down to one of these modes; the
numbers a mode needs (the line a recovery started from, when a probe went out) live beside it in
the sender and mean nothing in any other mode. ``Sender._set_mode`` is the one place the mode changes.
"""

from __future__ import annotations

from enum import Enum


class SenderMode(Enum):
    STREAMING = "streaming"
    """Every ok is accounted for: an anonymous ok is the oldest line's, and the window is full speed."""
    DOUBTFUL = "doubtful"
    """An ok may have been lost or invented: an M105 resynchronises the window, and before the stream
    reports itself idle the last line is re-sent to ask the firmware where it is (``PROBING``)."""
    RECOVERING = "recovering"
    """After a ``Resend:``: one re-sent line in flight until the firmware takes one (its ok, or a
    request for a later line); requests for the line the recovery started from are the stale lines'
    complaints, not new requests."""
    PROBING = "probing"
    """The last line was re-sent to ask where the firmware is: nothing else goes out until it answers."""
    HALTED = "halted"
    """The firmware rebooted: nothing is sent or re-sent until a new session."""


_M = SenderMode
TRANSITIONS: dict[SenderMode, frozenset[SenderMode]] = {
    _M.STREAMING: frozenset({_M.DOUBTFUL, _M.RECOVERING, _M.HALTED}),
    _M.DOUBTFUL: frozenset({_M.STREAMING, _M.RECOVERING, _M.PROBING, _M.HALTED}),
    _M.RECOVERING: frozenset({_M.STREAMING, _M.DOUBTFUL, _M.PROBING, _M.HALTED}),
    _M.PROBING: frozenset({_M.STREAMING, _M.DOUBTFUL, _M.RECOVERING, _M.HALTED}),
    _M.HALTED: frozenset(),
}
"""Which mode may follow which. Only a new session (``start_session``) leaves HALTED; it may start from any mode."""

UNCERTAIN = frozenset({_M.DOUBTFUL, _M.RECOVERING, _M.PROBING})
"""The modes in which the sender does not know for sure where the firmware is."""
