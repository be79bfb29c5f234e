"""Bulk actions, groups, maintenance and temperature presets: ``/api/farm/bulk``, ``/api/farm/presets``
and ``/api/farm/printers/<name>/{tags,maintenance}``. Translation only: ``farmctl.farm.bulk`` and
``farmctl.farm.fleet`` do the work.

- ``POST /api/farm/bulk`` ``{"action": "preheat", "printers": ["p1", "p2"], "preset": "PLA"}``:
  ``{"results": [{"printer": "p1", "error": null}, ...]}`` (200 even when some printers refused).
- ``GET /api/farm/presets``, ``PUT /api/farm/presets`` ``{"presets": [{"name", "tool", "bed"}, ...]}``.
- ``PUT /api/farm/printers/<name>/tags`` ``{"tags": ["left-wall"]}``.
- ``PUT /api/farm/printers/<name>/maintenance`` ``{"on": true, "note": "new nozzle"}``.
"""

from __future__ import annotations

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm import bulk, fleet
from farmctl.http.app import farm_of
from farmctl.http.farm_api import remote
from farmctl.http.params import json_body


async def _object(request: web.Request) -> dict:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise FarmctlError("the request body must be a JSON object")
    return body


async def bulk_post(request: web.Request) -> web.Response:
    body = await _object(request)
    action = body.get("action")
    if not isinstance(action, str):
        raise FarmctlError('send {"action": "pause", "printers": [...]}')
    farm, names = farm_of(request), body.get("printers")
    bulk.check(farm, names, action, body)
    elsewhere = [n for n in dict.fromkeys(names) if isinstance(n, str) and remote.is_remote(farm, request, n)]
    here = [n for n in names if n not in elsewhere]
    results = await bulk.run(farm, here, action, body) if here else []
    if elsewhere:  # other nodes' printers: each node does its share, answers merged in the order asked
        by_name = {r.printer: r for r in results + await remote.bulk_elsewhere(farm, request, elsewhere, body)}
        results = [by_name[n] for n in dict.fromkeys(names)]
    return web.json_response({"results": [result.as_dict() for result in results]})


async def presets_get(request: web.Request) -> web.Response:
    return web.json_response({"presets": [p.to_api() for p in farm_of(request).presets]})


async def presets_put(request: web.Request) -> web.Response:
    body = await _object(request)
    await fleet.set_presets(farm_of(request), body.get("presets"))
    return await presets_get(request)


async def tags_put(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = farm.printer(request.match_info["name"])
    await fleet.set_tags(farm, entry, (await _object(request)).get("tags"))
    return web.json_response({"tags": list(entry.tags)})


async def maintenance_put(request: web.Request) -> web.Response:
    farm = farm_of(request)
    entry = farm.printer(request.match_info["name"])
    body = await _object(request)
    on, note = body.get("on"), body.get("note", "")
    if not isinstance(on, bool) or not isinstance(note, str):
        raise FarmctlError('send {"on": true, "note": "why"} or {"on": false}')
    await fleet.set_maintenance(farm, entry, on, note)
    return web.json_response({"maintenance": entry.maintenance})


ROUTES = (
    ("POST", "/api/farm/bulk", bulk_post),
    ("GET", "/api/farm/presets", presets_get),
    ("PUT", "/api/farm/presets", presets_put),
    ("PUT", "/api/farm/printers/{name}/tags", remote.forwarded(tags_put)),
    ("PUT", "/api/farm/printers/{name}/maintenance", remote.forwarded(maintenance_put)),
)
