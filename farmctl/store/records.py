"""Frozen records of the queue database, as the store returns them.

Records carry farmctl's own names and types; the Continuous Print JSON is built from them in
``farmctl.http`` (``cp_json``), never here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

ARCHIVE_QUEUE = "archive"
LOCAL_QUEUE = "local"


class Strategy(Enum):
    """How a queue orders its jobs."""

    LINEAR = "LINEAR"


class RunResult(Enum):
    """How a print attempt ended. Only SUCCESS and FAILURE consume a copy."""

    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"  # interrupted by a farmctl crash or restart
    CANCELLED = "cancelled"  # stopped by a person (here or on the printer's own screen)

    @property
    def consumes_copy(self) -> bool:
        return self in (RunResult.SUCCESS, RunResult.FAILURE)


@dataclass(frozen=True, slots=True)
class QueueRecord:
    id: int
    name: str
    rank: float
    addr: str | None
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class SetFields:
    """A set's own fields: the one definition the store's columns and the queue's validation follow."""

    path: str
    sd: bool  # printed from the printer's SD card, not from farmctl's uploads
    count: int
    remaining: int
    completed: int
    metadata: str | None  # JSON text, as the plugin keeps it
    materials: tuple[str | None, ...]  # one per tool, None = any
    profiles: tuple[str, ...]  # printer profile names allowed to print it; empty = any


SET_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SetFields))


@dataclass(frozen=True, slots=True)
class SetRecord(SetFields):
    """A stored set: its fields plus where it sits."""

    id: int
    job_id: int
    rank: float

    @property
    def fields(self) -> SetFields:
        return SetFields(*(getattr(self, name) for name in SET_FIELDS))


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    queue: str
    name: str
    rank: float
    count: int
    remaining: int
    created: int
    draft: bool
    acquired_by: str | None
    archived: bool
    sets: tuple[SetRecord, ...]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One print attempt. ``result`` None means the run is open: its copy is reserved."""

    id: int
    queue_name: str
    job_name: str
    set_path: str
    printer: str
    start: float
    end: float | None
    result: RunResult | None
    job_id: int | None
    set_id: int | None
    movie_path: str | None = None
    thumb_path: str | None = None


@dataclass(frozen=True, slots=True)
class EventHook:
    """One script hooked to an event, with the preprocessor that gates it (None = always run)."""

    script: str
    preprocessor: str | None
