"""The queue database: the only package in farmctl that speaks SQL."""

from farmctl.store.appkeys import AppKeyRequestRecord
from farmctl.store.auth import ApiKeyRecord, UserRecord
from farmctl.store.db import Store
from farmctl.store.farm_rows import PresetRecord
from farmctl.store.migrations import LATEST_VERSION
from farmctl.store.nodes import NodePrinter
from farmctl.store.printers import PrinterStatus
from farmctl.store.records import (
    ARCHIVE_QUEUE,
    LOCAL_QUEUE,
    SET_FIELDS,
    EventHook,
    JobRecord,
    QueueRecord,
    RunRecord,
    RunResult,
    SetFields,
    SetRecord,
    Strategy,
)
from farmctl.store.sql import ConstraintViolation, DatabaseBusy
from farmctl.store.run_stats import DayTotals, HistoryRow, ReasonCount, ResultTotals, RunDetails, RunFilter
from farmctl.store.tx import Tx

__all__ = [
    "ARCHIVE_QUEUE", "LOCAL_QUEUE", "LATEST_VERSION", "SET_FIELDS", "EventHook", "JobRecord", "QueueRecord",
    "RunRecord", "RunResult", "SetFields", "SetRecord", "DatabaseBusy", "Store", "Strategy", "Tx",
    "ApiKeyRecord", "AppKeyRequestRecord", "ConstraintViolation", "NodePrinter", "PresetRecord", "PrinterStatus", "UserRecord",
    "DayTotals", "HistoryRow", "ReasonCount", "ResultTotals", "RunDetails", "RunFilter",
]
