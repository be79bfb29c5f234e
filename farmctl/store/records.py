"""Frozen records of the queue database and their Continuous Print API shapes.

The store builds them from rows; the queue model hands them to callers. ``to_api()`` uses the
plugin's key names exactly, so the HTTP layer only serialises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

ARCHIVE_QUEUE = "archive"
LOCAL_QUEUE = "local"


class Strategy(Enum):
    """How a queue orders its jobs; the plugin shows LINEAR as ``IN_ORDER`` in state/get."""

    LINEAR = "LINEAR"

    @property
    def shown(self) -> str:
        return "IN_ORDER"


class RunResult(Enum):
    """How a print attempt ended. Only SUCCESS and FAILURE consume a copy."""

    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"  # interrupted by a farmctl crash or restart
    CANCELLED = "cancelled"  # stopped by a person

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

    def to_api(self) -> dict[str, Any]:
        """The queues/get entry."""
        return {"name": self.name, "addr": self.addr, "strategy": self.strategy.value}


@dataclass(frozen=True, slots=True)
class SetRecord:
    id: int
    job_id: int
    path: str
    sd: bool
    rank: float
    count: int
    remaining: int
    completed: int
    metadata: str | None
    materials: tuple[str | None, ...]
    profiles: tuple[str, ...]

    def to_api(self, missing: frozenset[str] | None = None) -> dict[str, Any]:
        """``missing``: the local files found absent, when the caller looked (adds ``missing_file``)."""
        record = {
            "path": self.path,
            "count": self.count,
            "metadata": self.metadata,
            "materials": list(self.materials),
            "profiles": list(self.profiles),
            "id": self.id,
            "rank": self.rank,
            "sd": self.sd,
            "remaining": self.remaining,
            "completed": self.completed,
        }
        if missing is not None:
            record["missing_file"] = not self.sd and self.path in missing
        return record


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

    def to_api(self, missing: frozenset[str] | None = None) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "name": self.name,
            "count": self.count,
            "draft": self.draft,
            "sets": [s.to_api(missing) for s in self.sets],
            "created": self.created,
            "id": self.id,
            "remaining": self.remaining,
            "acquired": self.acquired_by is not None,
        }


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

    def to_api(self) -> dict[str, Any]:
        """The history/get row."""
        return {
            "start": self.start,
            "end": self.end,
            "result": None if self.result is None else self.result.value,
            "queue_name": self.queue_name,
            "job_name": self.job_name,
            "set_path": self.set_path,
            "run_id": self.id,
            "movie_path": self.movie_path,
            "thumb_path": self.thumb_path,
        }


@dataclass(frozen=True, slots=True)
class EventHook:
    """One script hooked to an event, with the preprocessor that gates it (None = always run)."""

    script: str
    preprocessor: str | None

    def to_api(self) -> dict[str, Any]:
        return {"script": self.script, "preprocessor": self.preprocessor}
