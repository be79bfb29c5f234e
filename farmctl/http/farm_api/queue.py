"""The dashboard's queue: one page of a queue's jobs, edits in place, and the forecast.

Every change is a queue model call (the Continuous Print model, with its checks), which announces
itself: the page hears of it over the push channel and refetches the page it shows.

- ``GET  /api/farm/queue?queue=local&offset=0&limit=100``: ``{queues, queue, total, jobs, before}``
  (``before``: the job just above the page, so a job dragged to the page's top lands after it).
- ``POST /api/farm/queue/jobs`` ``{"name", "queue"?, "count"?, "draft"?, "sets": [...]}``: a new job.
- ``POST /api/farm/queue/jobs/<id>``: Continuous Print's ``job/edit`` fields (name, count, remaining,
  draft, sets with their count, remaining, materials and profiles).
- ``POST /api/farm/queue/jobs/<id>/move`` ``{"after_id": id|null, "queue"?, "to_queue"?}``.
- ``POST /api/farm/queue/remove`` and ``/reset`` ``{"queue"?, "ids": [...]}``.
- ``POST /api/farm/queue/export`` ``{"ids"}``: ``.gjob`` files into the uploads; ``/import`` ``{"path"}``.
- ``GET  /api/farm/forecast?changeover=120``: when each copy is expected to print, and where.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm.outlook import DEFAULT_CHANGEOVER, outlook
from farmctl.http import cp_json
from farmctl.http.app import farm_of
from farmctl.http.octoprint_common import command_body
from farmctl.queue.validate import as_int
from farmctl.store import LOCAL_QUEUE

MAX_PAGE = 500


def _queue(body: dict[str, Any], key: str = "queue") -> str:
    return str(body.get(key) or LOCAL_QUEUE)


def _ids(body: dict[str, Any]) -> list[Any]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise FarmctlError("ids must be a non-empty list of job ids")
    return ids


async def page(request: web.Request) -> web.Response:
    farm = farm_of(request)
    name = request.query.get("queue") or LOCAL_QUEUE
    limit = as_int(request.query.get("limit", "100"), "limit", minimum=1)
    if limit > MAX_PAGE:
        raise FarmctlError(f"limit may be at most {MAX_PAGE}")
    offset = as_int(request.query.get("offset", "0"), "offset", minimum=0)
    total, jobs = await farm.model.pages.job_page(name, limit, offset)
    before = (await farm.model.pages.job_page(name, 1, offset - 1))[1] if offset else []
    missing = await farm.missing_files([item for job in jobs for item in job.sets])
    queues = [q.name for q in await farm.model.settings.get_queues()]
    return web.json_response({"queues": queues, "queue": name, "total": total, "offset": offset,
                              "before": before[0].id if before else None,
                              "jobs": [{**cp_json.job_json(job, missing), "rank": job.rank, "acquiredBy": job.acquired_by}
                                       for job in jobs]})


async def new_job(request: web.Request) -> web.Response:
    farm = farm_of(request)
    body = await command_body(request)
    job = await farm.model.pages.create_job(body, queue=_queue(body))
    return web.json_response(cp_json.job_json(job, await farm.missing_files(job.sets)), status=201)


async def edit_job(request: web.Request) -> web.Response:
    farm = farm_of(request)
    body = await command_body(request)
    job = await farm.model.jobs.edit_job({**body, "id": request.match_info["id"]})
    return web.json_response(cp_json.job_json(job, await farm.missing_files(job.sets)))


async def move_job(request: web.Request) -> web.Response:
    body = await command_body(request)
    job = await farm_of(request).model.jobs.get_job(request.match_info["id"])
    await farm_of(request).model.jobs.move_job(job.id, body.get("after_id"), job.queue, body.get("to_queue") or None)
    return web.json_response({"moved": job.id})


async def remove(request: web.Request) -> web.Response:
    body = await command_body(request)
    removed = await farm_of(request).model.jobs.remove_jobs(_queue(body), _ids(body))
    return web.json_response({"removed": removed})


async def reset(request: web.Request) -> web.Response:
    body = await command_body(request)
    updated = await farm_of(request).model.jobs.reset_jobs(_queue(body), _ids(body))
    return web.json_response({"reset": updated})


async def export(request: web.Request) -> web.Response:
    farm = farm_of(request)
    result = await farm.model.gjobs.export_jobs(_ids(await command_body(request)), farm.uploads_dir, farm.uploads_dir)
    await farm.files_written(result.paths)
    return web.json_response(cp_json.export_json(result))


async def import_gjob(request: web.Request) -> web.Response:
    farm = farm_of(request)
    body = await command_body(request)
    path = await farm.uploads.local_path(str(body.get("path") or ""))
    job = await farm.model.gjobs.import_job(path, farm.uploads_dir, _queue(body))
    return web.json_response(cp_json.job_json(job, await farm.missing_files(job.sets)), status=201)


async def forecast(request: web.Request) -> web.Response:
    changeover = as_int(request.query.get("changeover", str(int(DEFAULT_CHANGEOVER))), "changeover", minimum=0)
    seen = await outlook(farm_of(request), float(changeover))
    plan = seen.forecast
    return web.json_response({
        "now": seen.now, "printers": list(seen.printers), "assumedManaged": seen.assumed_managed,
        "changeover": seen.changeover, "truncated": plan.truncated, "finish": plan.finish,
        "unplaced": list(plan.unplaced),
        "copies": [{"printer": c.printer, "jobId": c.job_id, "jobName": c.job_name, "setId": c.set_id,
                    "path": c.path, "start": c.start, "end": c.end, "running": c.running, "estimated": c.estimated}
                   for c in plan.copies],
    })


ROUTES = (
    ("GET", "/api/farm/queue", page),
    ("POST", "/api/farm/queue/jobs", new_job),
    ("POST", "/api/farm/queue/jobs/{id}", edit_job),
    ("POST", "/api/farm/queue/jobs/{id}/move", move_job),
    ("POST", "/api/farm/queue/remove", remove),
    ("POST", "/api/farm/queue/reset", reset),
    ("POST", "/api/farm/queue/export", export),
    ("POST", "/api/farm/queue/import", import_gjob),
    ("GET", "/api/farm/forecast", forecast),
)
