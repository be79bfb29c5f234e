"""The dashboard's access and automation settings. Keys and users need the admin role; the
automation needs an operator to change or simulate it and a viewer to read it.

- ``GET  /api/farm/access``: API keys (never their text), users, the roles one may grant.
- ``POST /api/farm/access/keys`` ``{"name", "role", "user"?}``: a new key, its text shown once.
- ``POST /api/farm/access/keys/<id>/revoke``: delete it; its logins end.
- ``POST /api/farm/access/users`` ``{"name", "password", "role"}``.
- App-key requests: ``GET /api/farm/appkeys`` and ``POST /api/farm/appkeys/<id>`` (``octoprint_auth``).
- ``GET|POST /api/farm/automation``: scripts, preprocessors and event hooks (Continuous Print's shape).
- ``POST /api/farm/automation/simulate`` ``{"script", "preprocessor"?, "symbols"?, "event"?}``: what
  the hook would send and why, without touching a printer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmctl.auth import Role
from farmctl.automation import run_event
from farmctl.errors import FarmctlError
from farmctl.http import cp_json
from farmctl.http.app import farm_of, require
from farmctl.http.octoprint_common import command_body
from farmctl.queue.validate import as_int, as_str

SIMULATED_EVENT = "continuousprint_success"


async def overview(request: web.Request) -> web.Response:
    principal = require(request, Role.ADMIN)
    auth = farm_of(request).auth
    keys = await auth.list_keys()
    users = await auth.users()
    return web.json_response({
        "you": {"user": principal.user, "role": principal.role.value, "keyId": principal.key_id},
        "roles": [role.value for role in Role],
        "keys": [{"id": k.id, "name": k.name, "user": k.user, "role": k.role, "created": k.created,
                  "lastUsed": k.last_used} for k in keys],
        "users": [{"name": u.name, "role": u.role, "created": u.created, "canLogIn": u.password_hash is not None}
                  for u in users],
    })


async def new_key(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    body = await command_body(request)
    role = Role.parse(str(body.get("role", Role.OPERATOR.value)))
    user = body.get("user") or None
    key = await farm_of(request).auth.add_key(as_str(body.get("name"), "name"), role,
                                              None if user is None else as_str(user, "user"))
    return web.json_response({"key": key, "role": role.value}, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    key_id = as_int(request.match_info["id"], "key id", minimum=1)
    await farm_of(request).auth.revoke_key(key_id)
    return web.json_response({"revoked": key_id})


async def new_user(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    body = await command_body(request)
    role = Role.parse(str(body.get("role", Role.OPERATOR.value)))
    password = body.get("password")
    if not isinstance(password, str):
        raise FarmctlError("password must be text")
    user = await farm_of(request).auth.add_user(as_str(body.get("name"), "name"), password, role)
    return web.json_response({"name": user.name, "role": user.role}, status=201)


async def automation(request: web.Request) -> web.Response:
    return web.json_response(cp_json.automation_json(await farm_of(request).model.settings.get_automation()))


async def edit_automation(request: web.Request) -> web.Response:
    settings = farm_of(request).model.settings
    await settings.edit_automation(await command_body(request))
    return web.json_response(cp_json.automation_json(await settings.get_automation()))


async def simulate(request: web.Request) -> web.Response:
    """Run one script (and its preprocessor) as the queue would at ``event``, against ``symbols``."""
    body = await command_body(request)
    script = as_str(body.get("script", ""), "script", allow_empty=True)
    preprocessor = body.get("preprocessor") or None
    if preprocessor is not None and not isinstance(preprocessor, str):
        raise FarmctlError("preprocessor must be text")
    symbols = body.get("symbols", {})
    if not isinstance(symbols, dict):
        raise FarmctlError("symbols must be an object (e.g. {\"current\": {\"path\": \"a.gcode\"}})")
    symbols = {"current": {}, "external": await farm_of(request).model.settings.get_external(), "metadata": {}, **symbols}
    result = run_event(str(body.get("event") or SIMULATED_EVENT), [(script, preprocessor)], symbols)
    return web.json_response(result.as_dict())


ROUTES = (
    ("GET", "/api/farm/access", overview),
    ("POST", "/api/farm/access/keys", new_key),
    ("POST", "/api/farm/access/keys/{id}/revoke", revoke_key),
    ("POST", "/api/farm/access/users", new_user),
    ("GET", "/api/farm/automation", automation),
    ("POST", "/api/farm/automation", edit_automation),
    ("POST", "/api/farm/automation/simulate", simulate),
)
