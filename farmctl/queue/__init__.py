"""The durable print queue: jobs, sets and the counting rules, over ``farmctl.store``."""

from farmctl.queue.counting import Claim, materials_match, profile_allows
from farmctl.queue.jobs import AddedSet
from farmctl.queue.model import QueueModel

__all__ = ["AddedSet", "Claim", "QueueModel", "materials_match", "profile_allows"]
