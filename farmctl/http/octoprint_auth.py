"""Who is calling, OctoPrint style: /api/version, /api/login, /api/currentuser, /api/users and
the /plugin/appkeys flow, plus the farm's own endpoints where a person decides app-key requests.

farmctl stores only hashes of API keys, so a user record's ``apikey`` is always null: a client
never sees its own key echoed back as if it were a global one, and there is no ``_api`` user.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmctl.auth import AppKeyState, Principal, Role
from farmctl.errors import FarmctlError
from farmctl.http.app import PRINCIPAL, SESSION_COOKIE, farm_of, require
from farmctl.http.octoprint_common import API_VERSION, VERSION, base_url, command_body, no_content, truthy

REMEMBER_SECONDS = 30 * 24 * 3600

_VIEWER_PERMISSIONS = ("STATUS", "CONNECTION", "WEBCAM", "FILES_LIST", "FILES_DOWNLOAD", "MONITOR_TERMINAL",
                       "GCODE_VIEWER", "TIMELAPSE_LIST", "SETTINGS_READ", "PLUGIN_APPKEYS_USER")
_OPERATOR_PERMISSIONS = _VIEWER_PERMISSIONS + ("FILES_UPLOAD", "FILES_DELETE", "FILES_SELECT", "PRINT", "CONTROL",
                                               "SLICE", "TIMELAPSE_DOWNLOAD")
_ADMIN_PERMISSIONS = _OPERATOR_PERMISSIONS + ("ADMIN", "SETTINGS", "SYSTEM", "PLUGIN_APPKEYS_ADMIN")
PERMISSIONS = {Role.VIEWER: _VIEWER_PERMISSIONS, Role.OPERATOR: _OPERATOR_PERMISSIONS, Role.ADMIN: _ADMIN_PERMISSIONS}
GROUPS = {Role.VIEWER: ["readonly"], Role.OPERATOR: ["users"], Role.ADMIN: ["admins", "users"]}


def _principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def user_record(principal: Principal, session: str | None = None) -> dict[str, Any]:
    role = principal.role
    return {
        "name": principal.user, "active": True, "admin": role == Role.ADMIN, "user": True,
        "apikey": None, "groups": GROUPS[role], "permissions": list(PERMISSIONS[role]),
        "needs": {"role": [p.lower() for p in PERMISSIONS[role]], "group": GROUPS[role]},
        "roles": ["admin", "user"] if role == Role.ADMIN else ["user"],
        "settings": {}, "session": session, "_is_external_client": False,
        "_login_mechanism": "apikey" if principal.key_id is not None else "password",
    }


async def version(request: web.Request) -> web.Response:
    return web.json_response({"api": API_VERSION, "server": VERSION, "text": f"OctoPrint {VERSION}"})


async def server(request: web.Request) -> web.Response:
    return web.json_response({"version": VERSION, "safemode": None})


async def login(request: web.Request) -> web.Response:
    """Passive (the caller's key or session) or with user and password; answers a user record with a
    session the push socket accepts as ``{"auth": "name:session"}``."""
    farm = farm_of(request)
    body = await command_body(request)
    remember = truthy(body.get("remember", False))
    if "user" in body and "pass" in body and not truthy(body.get("passive", False)):
        user, password = body["user"], body["pass"]
        if not isinstance(user, str) or not isinstance(password, str):
            raise FarmctlError("user and pass must be text")
        principal = await farm.auth.login(user, password, client=request.remote or "unknown")
    else:
        principal = _principal(request)
        if principal is None:
            raise FarmctlError("not logged in: send an API key or log in with user and pass", 403)
    session = principal.session or farm.auth.new_session(principal)
    response = web.json_response(user_record(principal, session))
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Lax",
                        max_age=REMEMBER_SECONDS if remember else None)
    return response


async def logout(request: web.Request) -> web.Response:
    principal = _principal(request)
    if principal is not None and principal.session is not None:
        farm_of(request).auth.end_session(principal.session)
    response = no_content()
    response.del_cookie(SESSION_COOKIE)
    return response


async def current_user(request: web.Request) -> web.Response:
    principal = _principal(request)
    assert principal is not None  # the middleware let only known callers through
    return web.json_response({"name": principal.user, "permissions": list(PERMISSIONS[principal.role]),
                              "groups": GROUPS[principal.role]})


async def users(request: web.Request) -> web.Response:
    require(request, Role.ADMIN)
    records = await farm_of(request).auth.users()
    return web.json_response({"users": [
        {"name": u.name, "active": True, "admin": u.role == Role.ADMIN.value, "user": True, "apikey": None,
         "groups": GROUPS[Role(u.role)], "permissions": list(PERMISSIONS[Role(u.role)]), "settings": {}}
        for u in records]})


# -- app keys ----------------------------------------------------------------------------------


async def appkeys_probe(request: web.Request) -> web.Response:
    return no_content()


async def appkeys_request(request: web.Request) -> web.Response:
    body = await command_body(request)
    app, user = body.get("app"), body.get("user")
    if not isinstance(app, str):
        raise FarmctlError("send {\"app\": \"<the app's name>\"}")
    if user is not None and not isinstance(user, str):
        raise FarmctlError("user must be text")
    client = None if _principal(request) is not None else request.remote or "unknown"
    token = await farm_of(request).auth.request_app_key(app, user or None, client=client)
    response = web.json_response({"app_token": token,
                                  "auth_dialog": f"{request.url.origin()}/"}, status=201)
    response.headers["Location"] = f"{base_url(request)}/plugin/appkeys/request/{token}"
    return response


async def appkeys_poll(request: web.Request) -> web.Response:
    state, key = await farm_of(request).auth.poll(request.match_info["token"])
    if state is AppKeyState.PENDING:
        return web.json_response({"message": "Awaiting decision"}, status=202)  # as OctoPrint words it
    if state is AppKeyState.GRANTED:
        return web.json_response({"api_key": key})
    raise FarmctlError(f"no app key for that request: it was {state.value}", 404)


async def farm_appkeys(request: web.Request) -> web.Response:
    """The dashboard's list of app-key requests waiting for a person (admin), by id: the poll token
    is the app's secret, which the farm keeps only hashed."""
    require(request, Role.ADMIN)
    waiting = await farm_of(request).auth.pending_requests()
    return web.json_response({"requests": [
        {"id": r.id, "app": r.app, "user": r.user, "created": r.created, "state": r.state.value} for r in waiting]})


async def _decide(request: web.Request, principal: Principal, request_id: int) -> web.Response:
    """Allow or deny one request: {"decision": "allow" | "deny" | true | false, "role"?: "operator"}."""
    body = await command_body(request)
    decision = body.get("decision")
    if isinstance(decision, bool):
        decision = "allow" if decision else "deny"
    if decision not in ("allow", "deny"):
        raise FarmctlError("decision must be \"allow\" or \"deny\"")
    role = Role.parse(str(body.get("role", Role.OPERATOR.value)))
    await farm_of(request).auth.decide(request_id, decision == "allow", role, by=principal)
    return no_content()


async def farm_appkey_decide(request: web.Request) -> web.Response:
    """The dashboard's decision, by the request's id as ``/api/farm/appkeys`` lists it."""
    principal = require(request, Role.ADMIN)
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise FarmctlError(f"an app key request id is a number, not {text!r}", 404)
    return await _decide(request, principal, int(text))


async def appkeys_decide(request: web.Request) -> web.Response:
    """OctoPrint's own decision route, by the app's token."""
    principal = require(request, Role.ADMIN)
    request_id = await farm_of(request).auth.app_key_request_id(request.match_info["token"])
    return await _decide(request, principal, request_id)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/version", version),
        web.get(prefix + "/api/server", server),
        web.post(prefix + "/api/login", login),
        web.post(prefix + "/api/logout", logout),
        web.get(prefix + "/api/currentuser", current_user),
        web.get(prefix + "/api/users", users),
        web.get(prefix + "/plugin/appkeys/probe", appkeys_probe),
        web.post(prefix + "/plugin/appkeys/request", appkeys_request),
        web.get(prefix + "/plugin/appkeys/request/{token}", appkeys_poll),
        web.post(prefix + "/plugin/appkeys/decision/{token}", appkeys_decide),
    ])
    if prefix == "":
        app.router.add_routes([
            web.get("/api/farm/appkeys", farm_appkeys),
            web.post("/api/farm/appkeys/{id}", farm_appkey_decide),
        ])
