"""The durable print queue: jobs, sets and the counting rules, over ``farmctl.store``."""

from farmctl.queue.counting import Claim, materials_match, profile_allows
from farmctl.queue.jobs import AddedSet
from farmctl.queue.model import QueueModel
from farmctl.queue.settings import Automation
from farmctl.queue.state import QueueContents, QueueSnapshot
from farmctl.queue.gjob import ExportResult

__all__ = ["AddedSet", "Automation", "Claim", "ExportResult", "QueueContents", "QueueModel", "QueueSnapshot",
           "materials_match", "profile_allows"]
