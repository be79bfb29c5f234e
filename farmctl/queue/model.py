"""The queue model the farm holds: small collaborators over one ``QueueDb``, each with one job."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from farmctl.queue.counting import Counting
from farmctl.queue.db import Listener, QueueDb
from farmctl.queue.gjob import Gjobs
from farmctl.queue.jobs import Jobs
from farmctl.queue.nodes import NodeClock, Nodes
from farmctl.queue.pages import Pages
from farmctl.queue.settings import QueueSettings
from farmctl.queue.state import QueueState
from farmctl.queue.statistics import RunStatistics
from farmctl.store import Store


@dataclass(frozen=True, slots=True)
class QueueModel:
    """``model.jobs.add_set(...)``, ``model.counting.claim(...)``: methods are async and validate input."""

    db: QueueDb
    jobs: Jobs
    counting: Counting
    settings: QueueSettings
    state: QueueState
    gjobs: Gjobs
    nodes: Nodes
    statistics: RunStatistics
    pages: Pages

    @classmethod
    def over(cls, store: Store, *, clock: Callable[[], float] = time.time,
             node: NodeClock = NodeClock("farmctl")) -> QueueModel:
        db = QueueDb(store, clock=clock, node=node.name)
        return cls(db, Jobs(db), Counting(db), QueueSettings(db), QueueState(db), Gjobs(db), Nodes(db, node),
                   RunStatistics(db), Pages(db))

    @property
    def store(self) -> Store:
        return self.db.store

    def listen(self, listener: Listener) -> None:
        """``listener()`` runs after every committed change to the queue."""
        self.db.listen(listener)
