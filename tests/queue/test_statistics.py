"""History pages and statistics over a real SQLite file: filters, totals, failures by reason, days."""

from __future__ import annotations

import datetime

import pytest
from queue_helpers import make_job

from farmctl.errors import FarmctlError
from farmctl.queue import QueueModel
from farmctl.queue.statistics import FARM, run_filter
from farmctl.store import RunResult


async def print_one(model: QueueModel, printer: str, result: str, *, reason: str = "", filament: float = 0.0,
                    seconds: float | None = None) -> int:
    claim = await model.counting.claim(printer)
    assert claim is not None
    await model.statistics.note_run(claim.run.id, reason=reason, filament_mm=filament, print_seconds=seconds)
    await model.counting.finish_run(claim.run.id, result)
    return claim.run.id


async def test_totals_per_printer_and_farm_with_failure_reasons(model: QueueModel) -> None:
    await make_job(model, [("a.gcode", 10)])
    await print_one(model, "p1", "success", filament=1000.0, seconds=3600)
    await print_one(model, "p1", "success", filament=500.0, seconds=1800)
    await print_one(model, "p1", "failure", reason="thermal runaway on T0", filament=100.0, seconds=600)
    await print_one(model, "p2", "failure", reason="thermal runaway on T0", filament=50.0, seconds=300)
    await print_one(model, "p2", "failure", reason="the printer stopped answering")
    await print_one(model, "p2", "cancelled", reason="cancelled")
    open_claim = await model.counting.claim("p3")  # still printing: counted as printing, not ended
    assert open_claim is not None

    stats = await model.statistics.statistics(run_filter({}))
    farm = stats.totals[FARM]
    assert (farm.runs, farm.success, farm.failure, farm.cancelled, farm.printing) == (7, 2, 3, 1, 1)
    assert farm.success_rate == pytest.approx(2 / 6)
    assert farm.filament_mm == 1650.0
    p1 = stats.totals["p1"]
    assert (p1.success, p1.failure, p1.success_rate) == (2, 1, pytest.approx(2 / 3))
    assert p1.seconds == pytest.approx(6000)
    reasons = {(r.printer, r.reason): r.runs for r in stats.reasons}
    assert reasons == {("p1", "thermal runaway on T0"): 1, ("p2", "thermal runaway on T0"): 1,
                       ("p2", "the printer stopped answering"): 1}
    day = datetime.date.fromtimestamp(1_700_000_000).isoformat()
    assert {d.day for d in stats.days} == {day}
    assert sum(d.runs for d in stats.days if d.result is RunResult.FAILURE) == 3


async def test_filters_by_printer_result_and_date_and_pages(model: QueueModel) -> None:
    await make_job(model, [("a.gcode", 30)])
    ids = [await print_one(model, f"p{n % 3}", "success" if n % 4 else "failure", reason="clog") for n in range(20)]
    only = run_filter({"printer": "p1,p2", "result": ["failure"]})
    total, page = await model.statistics.history_page(only, limit=2, offset=0)
    expected = [i for n, i in enumerate(ids) if n % 3 in (1, 2) and n % 4 == 0]
    assert total == len(expected)
    assert [row.run.id for row in page] == sorted(expected, reverse=True)[:2]
    assert all(row.details is not None and row.details.reason == "clog" for row in page)
    _, rest = await model.statistics.history_page(only, limit=50, offset=2)
    assert [row.run.id for row in rest] == sorted(expected, reverse=True)[2:]

    first = (await model.statistics.history_page(run_filter({}), limit=500))[1][-1].run
    tomorrow = (datetime.date.fromtimestamp(first.start) + datetime.timedelta(days=1)).isoformat()
    assert (await model.statistics.history_page(run_filter({"since": tomorrow})))[0] == 0
    today = datetime.date.fromtimestamp(first.start).isoformat()
    assert (await model.statistics.history_page(run_filter({"since": today, "until": today})))[0] == 20
    assert (await model.statistics.history_page(run_filter({"until": first.start})))[0] == 0  # epoch seconds, exclusive


async def test_details_go_with_a_reset_history_and_bad_filters_are_refused(model: QueueModel) -> None:
    await make_job(model, [("a.gcode", 2)])
    await print_one(model, "p1", "failure", reason="clog")
    await model.settings.reset_history()
    assert (await model.statistics.statistics(run_filter({}))).reasons == ()
    for bad in ({"result": "exploded"}, {"since": "last tuesday"}):
        with pytest.raises(FarmctlError):
            run_filter(bad)
    with pytest.raises(FarmctlError):
        await model.statistics.history_page(run_filter({}), limit=10_000)
    assert run_filter({"result": "SUCCESS"}).results == (RunResult.SUCCESS,)
