"""Continuous Print's API (``/plugin/continuousprint/...``) translated onto farmctl's queue model.

Per printer (``/printers/<name>/plugin/continuousprint/...``, a printer's own port, or the default
printer on the main port's plain paths) and for the whole farm (``/farm/plugin/continuousprint/...``
on the main port): the farm's ``state/get`` lists every printer, its ``set_active`` starts or stops
them all. The queue itself is the farm's, so the queue endpoints behave the same everywhere.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm.driver import DriverState, DriverStatus
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http import cp_json
from farmctl.http.app import PRINTER_NAME, Handler, farm_of, printer_of
from farmctl.http.params import form, id_list, json_body, parse_json_text, payload, require as required
from farmctl.queue.validate import as_bool
from farmctl.store import LOCAL_QUEUE, JobRecord

BASE = "/plugin/continuousprint"
FARM_BASE = "/farm/plugin/continuousprint"


def _ok() -> web.Response:
    return web.json_response("OK")


# -- state -------------------------------------------------------------------------------------

async def queues(farm: Farm, printer: str | None = None) -> list[dict[str, Any]]:
    """state/get's ``queues``, as ``printer`` sees them (its ``active_set``)."""
    snapshot, missing = await farm.queue_view(printer)
    return cp_json.queues_json(snapshot, printer, missing)


async def _printer_state(farm: Farm, entry: FarmPrinter) -> dict[str, Any]:
    driver = entry.driver
    status = driver.status
    return {
        "active": driver.active,
        "profile": entry.printer_profile or entry.config.profile or entry.printer.profile.name,
        "materials": list(entry.materials),
        "status": cp_json.status_text(status),
        "statusType": cp_json.status_type(status),
        "reason": status.reason,
        "queues": await queues(farm, entry.name),
    }


async def _farm_state(farm: Farm) -> dict[str, Any]:
    statuses = {p.name: p.driver.status for p in farm.printers.values()}
    printers = [{"name": p.name, "active": p.driver.active, "status": cp_json.status_text(statuses[p.name]),
                 "statusType": cp_json.status_type(statuses[p.name]), "printer": p.printer.state.value,
                 "profile": p.printer_profile, "materials": list(p.materials)}
                for p in farm.printers.values()]
    active = bool(printers) and all(p["active"] for p in printers)
    printing = any(s.state is DriverState.PRINTING for s in statuses.values())
    overall = DriverState.PRINTING if printing else DriverState.IDLE if active else DriverState.INACTIVE
    return {
        "active": active,
        "profile": "",
        "status": cp_json.status_text(DriverStatus(overall)),
        "statusType": cp_json.status_type(DriverStatus(overall)),
        "queues": await queues(farm),
        "printers": printers,
    }


def _addressed(request: web.Request) -> FarmPrinter | None:
    """The printer a request is about, or None for the main port's plain paths in a farm with no default."""
    farm = farm_of(request)
    if request.match_info.get("printer") is None and request.app.get(PRINTER_NAME) is None \
            and farm.default_printer() is None:
        return None
    return printer_of(request)


async def state_get(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = _addressed(request)
    return web.json_response(await _printer_state(farm, entry) if entry else await _farm_state(farm))


async def farm_state_get(request: web.Request) -> web.Response:
    return web.json_response(await _farm_state(farm_of(request)))


async def _active_flag(request: web.Request) -> bool:
    data = await payload(request)
    value = required(data, "active")
    if isinstance(value, str) and not value.strip():
        raise FarmctlError("active must be true or false, not empty")  # never read an empty field as 'stop'
    return as_bool(value, "active")


async def set_active(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = _addressed(request)
    if entry is None:
        return await farm_set_active(request)
    await entry.driver.set_active(await _active_flag(request))
    return web.json_response(await _printer_state(farm, entry))


async def farm_set_active(request: web.Request) -> web.Response:
    farm = farm_of(request)
    active = await _active_flag(request)
    for entry in farm.printers.values():
        await entry.driver.set_active(active)
    return web.json_response(await _farm_state(farm))


# -- jobs and sets -------------------------------------------------------------------------------

async def _job_response(request: web.Request, job: JobRecord) -> web.Response:
    return web.json_response(cp_json.job_json(job, await farm_of(request).missing_files(job.sets)))


async def set_add(request: web.Request) -> web.Response:
    data = await payload(request)
    required(data, "path")
    added = await farm_of(request).model.jobs.add_set(
        data, job=data.get("job"), job_name=data.get("jobName"), job_draft=data.get("jobDraft", True),
        queue=str(data.get("queue") or LOCAL_QUEUE))
    return web.json_response(cp_json.added_set_json(added, await farm_of(request).missing_files([added.set])))


async def job_add(request: web.Request) -> web.Response:
    data = await payload(request)
    job = await farm_of(request).model.jobs.add_job(required(data, "name"), queue=str(data.get("queue") or LOCAL_QUEUE))
    return await _job_response(request, job)


async def job_mv(request: web.Request) -> web.Response:
    data = await payload(request)
    await farm_of(request).model.jobs.move_job(required(data, "id"), data.get("after_id"),
                                          str(data.get("src_queue") or LOCAL_QUEUE), data.get("dest_queue"))
    return _ok()


async def job_edit(request: web.Request) -> web.Response:
    job = await farm_of(request).model.jobs.edit_job(await payload(request))
    return await _job_response(request, job)


async def job_import(request: web.Request) -> web.Response:
    farm = farm_of(request)
    data = await payload(request)
    path = await farm.uploads.local_path(str(required(data, "path")))
    job = await farm.model.gjobs.import_job(path, farm.uploads_dir, str(data.get("queue") or LOCAL_QUEUE))
    return await _job_response(request, job)


async def job_export(request: web.Request) -> web.Response:
    farm = farm_of(request)
    data = await payload(request)
    result = await farm.model.gjobs.export_jobs(id_list(data, "job_ids"), farm.uploads_dir, farm.uploads_dir)
    await farm.files_written(result.paths)
    return web.json_response(cp_json.export_json(result))


async def job_rm(request: web.Request) -> web.Response:
    data = await payload(request)
    deleted = await farm_of(request).model.jobs.remove_jobs(str(data.get("queue") or LOCAL_QUEUE), id_list(data, "job_ids"))
    return web.json_response({"jobs_deleted": deleted})


async def job_reset(request: web.Request) -> web.Response:
    data = await payload(request)
    updated = await farm_of(request).model.jobs.reset_jobs(str(data.get("queue") or LOCAL_QUEUE), id_list(data, "job_ids"))
    return web.json_response({"num_updated": updated})


# -- history, queues, automation -----------------------------------------------------------------

async def history_get(request: web.Request) -> web.Response:
    return web.json_response([cp_json.run_json(run) for run in await farm_of(request).model.settings.get_history()])


async def history_reset(request: web.Request) -> web.Response:
    await farm_of(request).model.settings.reset_history()
    return _ok()


async def queues_get(request: web.Request) -> web.Response:
    return web.json_response([cp_json.queue_json(queue) for queue in await farm_of(request).model.settings.get_queues()])


async def _json_field(request: web.Request) -> Any:
    """The ``json`` form field (or a JSON body): lists are allowed here, unlike ``payload``."""
    if request.content_type == "application/json":
        return await json_body(request)
    fields = await form(request)
    if "json" not in fields:
        raise FarmctlError("missing 'json'")
    return parse_json_text(str(fields["json"]), "the json field")


async def queues_edit(request: web.Request) -> web.Response:
    await farm_of(request).model.settings.edit_queues(await _json_field(request))
    return _ok()


async def automation_get(request: web.Request) -> web.Response:
    return web.json_response(cp_json.automation_json(await farm_of(request).model.settings.get_automation()))


async def automation_edit(request: web.Request) -> web.Response:
    await farm_of(request).model.settings.edit_automation(await _json_field(request))
    return _ok()


async def automation_external(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FarmctlError("the body must be a JSON object")
    await farm_of(request).model.settings.set_external(body)
    return _ok()


async def automation_simulate(request: web.Request) -> web.Response:
    from farmctl.automation import run_event

    fields = await form(request)
    symtable = parse_json_text(str(fields.get("symtable", "{}")), "symtable")
    automation = parse_json_text(str(required(fields, "automation")), "automation")
    if not isinstance(symtable, dict) or not isinstance(automation, list):
        raise FarmctlError("symtable must be a JSON object and automation a JSON list of [script, preprocessor]")
    hooks = []
    for item in automation:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], str))):
            raise FarmctlError("each automation entry must be [script, preprocessor or null]")
        hooks.append((item[0], item[1]))
    result = run_event("continuousprint_start_print", hooks, symtable)
    return web.json_response(result.as_dict())


_SHARED = [
    ("POST", "set/add", set_add), ("POST", "job/add", job_add), ("POST", "job/mv", job_mv),
    ("POST", "job/edit", job_edit), ("POST", "job/import", job_import), ("POST", "job/export", job_export),
    ("POST", "job/rm", job_rm), ("POST", "job/reset", job_reset),
    ("GET", "history/get", history_get), ("POST", "history/reset", history_reset),
    ("GET", "queues/get", queues_get), ("POST", "queues/edit", queues_edit),
    ("GET", "automation/get", automation_get), ("POST", "automation/edit", automation_edit),
    ("POST", "automation/external", automation_external), ("POST", "automation/simulate", automation_simulate),
]


def _add(app: web.Application, base: str, state: Handler, activate: Handler) -> None:
    app.router.add_get(f"{base}/state/get", state)
    app.router.add_post(f"{base}/set_active", activate)
    for method, path, handler in _SHARED:
        app.router.add_route(method, f"{base}/{path}", handler)


def add_routes(app: web.Application, prefix: str) -> None:
    """A printer's Continuous Print: its own state and set_active, the farm's shared queue."""
    _add(app, prefix + BASE, state_get, set_active)


def add_farm_routes(app: web.Application, prefix: str) -> None:
    """The whole farm: state of every printer, set_active for all of them."""
    _add(app, prefix + FARM_BASE, farm_state_get, farm_set_active)
