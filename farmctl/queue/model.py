"""The queue model the farm server holds: one object, every Continuous Print operation."""

from __future__ import annotations

from farmctl.queue.counting import Counting
from farmctl.queue.gjob import Gjobs
from farmctl.queue.jobs import JobOps
from farmctl.queue.pages import Pages
from farmctl.queue.settings import Settings
from farmctl.queue.statistics import RunStatistics


class QueueModel(JobOps, Counting, Settings, Gjobs, RunStatistics, Pages):
    """``QueueModel(store, clock=time.time)``; methods are async and validate their input."""
