"""The dashboard's history and statistics, with the same filters on all three routes.

Filters (query): ``printer`` and ``result`` (comma-separated), ``since`` and ``until`` (dates
``YYYY-MM-DD``, until inclusive, or epoch seconds).

- ``GET /api/farm/history?offset=0&limit=50``: ``{total, runs}``, newest first.
- ``GET /api/farm/statistics``: totals per printer and for the farm, failures by reason, per day.
- ``GET /api/farm/history.csv``: every matching run as CSV, streamed a page at a time.
"""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

from aiohttp import web

from farmctl.http import cp_json
from farmctl.http.app import farm_of
from farmctl.queue.statistics import FARM, MAX_PAGE, Statistics, Totals, run_filter
from farmctl.store import HistoryRow

CSV_COLUMNS = ("run", "printer", "queue", "job", "file", "result", "reason", "start", "end", "seconds", "filament_mm")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def totals_json(totals: Totals) -> dict[str, Any]:
    return {"runs": totals.runs, "success": totals.success, "failure": totals.failure, "cancelled": totals.cancelled,
            "aborted": totals.aborted, "printing": totals.printing, "successRate": totals.success_rate,
            "hours": round(totals.seconds / 3600.0, 3), "filamentMm": round(totals.filament_mm, 1)}


def statistics_json(stats: Statistics) -> dict[str, Any]:
    farm_reasons: dict[str, int] = {}
    for item in stats.reasons:
        farm_reasons[item.reason] = farm_reasons.get(item.reason, 0) + item.runs
    return {
        "farm": totals_json(stats.totals.get(FARM, Totals())),
        "printers": {name: totals_json(totals) for name, totals in stats.totals.items() if name != FARM},
        "failureReasons": [{"reason": reason, "runs": runs} for reason, runs in
                           sorted(farm_reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "failureReasonsByPrinter": [{"printer": r.printer, "reason": r.reason, "runs": r.runs} for r in stats.reasons],
        "days": [{"day": d.day, "result": None if d.result is None else d.result.value, "runs": d.runs,
                  "hours": round(d.seconds / 3600.0, 3)} for d in stats.days],
    }


def _filters(request: web.Request) -> Any:
    query = {key: request.query.getall(key) for key in ("printer", "result", "since", "until") if key in request.query}
    return run_filter({key: values if len(values) > 1 else values[0] for key, values in query.items()})


def run_record(row: HistoryRow) -> dict[str, Any]:
    run, details = row.run, row.details
    return {**cp_json.run_json(run), "printer": run.printer,
            "reason": details.reason if details else "",
            "filamentMm": details.filament_mm if details else None,
            "printSeconds": details.print_seconds if details else None}


async def history(request: web.Request) -> web.Response:
    total, rows = await farm_of(request).model.statistics.history_page(
        _filters(request), request.query.get("limit", "50"), request.query.get("offset", "0"))
    return web.json_response({"total": total, "runs": [run_record(row) for row in rows],
                              "printers": await farm_of(request).model.statistics.history_printers()})


async def statistics(request: web.Request) -> web.Response:
    stats = await farm_of(request).model.statistics.statistics(_filters(request))
    return web.json_response(statistics_json(stats))


def _cell(value: Any) -> Any:
    """No cell a spreadsheet would run as a formula (a job named "=HYPERLINK(...)")."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _when(moment: float | None) -> str:
    return "" if moment is None else datetime.datetime.fromtimestamp(moment).astimezone().isoformat(timespec="seconds")


def _csv_rows(rows: list[HistoryRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        run, details = row.run, row.details
        seconds = details.print_seconds if details and details.print_seconds is not None else (
            None if run.end is None else max(0.0, run.end - run.start))
        writer.writerow([_cell(v) for v in (
            run.id, run.printer, run.queue_name, run.job_name, run.set_path,
            "printing" if run.result is None else run.result.value, details.reason if details else "",
            _when(run.start), _when(run.end), "" if seconds is None else round(seconds, 1),
            "" if details is None or details.filament_mm is None else round(details.filament_mm, 1))])
    return out.getvalue().encode("utf-8")


async def history_csv(request: web.Request) -> web.StreamResponse:
    model = farm_of(request).model.statistics
    filters = _filters(request)
    stamp = datetime.date.today().isoformat()
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="farmctl-history-{stamp}.csv"'})
    await response.prepare(request)
    header = io.StringIO()
    csv.writer(header).writerow(CSV_COLUMNS)
    await response.write(header.getvalue().encode("utf-8"))
    offset = 0
    while True:
        _, rows = await model.history_page(filters, MAX_PAGE, offset)
        if not rows:
            break
        await response.write(_csv_rows(rows))
        offset += len(rows)
    await response.write_eof()
    return response


ROUTES = (
    ("GET", "/api/farm/history", history),
    ("GET", "/api/farm/statistics", statistics),
    ("GET", "/api/farm/history.csv", history_csv),
)
