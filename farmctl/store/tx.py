"""One open transaction: typed reads and writes, grouped by topic, valid only inside ``Store.transaction()``.

No rules live here: callers decide, the row classes only move rows. Each topic is a small class
over the transaction's ``Sql``, so a second database backend supplies another ``Sql`` and reuses
every one of them.
"""

from __future__ import annotations

from farmctl.store.appkeys import AppKeyRows
from farmctl.store.auth import AuthRows
from farmctl.store.automation import AutomationRows
from farmctl.store.copies import CopyRows
from farmctl.store.farm_rows import FarmRows
from farmctl.store.nodes import NodeRows
from farmctl.store.printers import PrinterRows
from farmctl.store.queue_rows import JobRows, QueueRows, SetRows
from farmctl.store.run_stats import RunStatsRows
from farmctl.store.runs import RunRows
from farmctl.store.sql import Sql
from farmctl.store.upload_rows import UploadHashRows


class Tx:
    """The open transaction's view of the database: ``tx.jobs.get(7)``, ``tx.runs.open("p1")``."""

    __slots__ = ("_sql", "queues", "jobs", "sets", "runs", "run_stats", "automation", "auth", "app_keys", "printers",
                 "nodes", "farm", "upload_hashes", "copies")

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self.copies = CopyRows(sql)
        self.queues = QueueRows(sql)
        self.jobs = JobRows(sql)
        self.sets = SetRows(sql, self.copies)
        self.runs = RunRows(sql, self.copies)
        self.run_stats = RunStatsRows(sql)
        self.automation = AutomationRows(sql)
        self.auth = AuthRows(sql)
        self.app_keys = AppKeyRows(sql)
        self.printers = PrinterRows(sql)
        self.nodes = NodeRows(sql)
        self.farm = FarmRows(sql)
        self.upload_hashes = UploadHashRows(sql)

    @property
    def wrote(self) -> bool:
        """Whether this transaction changed a row so far."""
        return self._sql.wrote

    async def change_marker(self) -> tuple[int, ...]:
        """Differs whenever committed data may have changed since the last reading."""
        return await self._sql.change_marker()
