"""The aiohttp applications: the main port (the farm, ``/printers/<name>/...`` and the default
printer's OctoPrint paths) and one port per printer that looks like a complete OctoPrint.

Two middlewares do what every route needs: turn a FarmctlError into ``{"error": ...}`` with its
status, and find who is calling (API key, Bearer, ``apikey`` parameter or session cookie). A
request with no valid key gets 403, except on the few paths OctoPrint leaves open; a viewer may
read but not change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from farmctl.auth import Principal, Role
from farmctl.errors import FarmctlError
from farmctl.farm.farm import Farm, FarmPrinter

log = logging.getLogger(__name__)

FARM = web.AppKey("farm", Farm)
PRINTER_NAME = web.AppKey("printer_name", str)  # set on a printer's own port
PRINCIPAL = web.RequestKey("principal", object)  # Principal | None: who is calling
SESSION_COOKIE = "farmctl_session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({
    "/", "/plugin/appkeys/probe", "/plugin/appkeys/request", "/api/login", "/sockjs/websocket", "/favicon.ico",
})
OPEN_PREFIXES = ("/static/", "/plugin/appkeys/request/", "/sockjs/")


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Expected failures become ``{"error": ...}``; an unexpected one is logged and becomes a 500."""
    try:
        return await handler(request)
    except FarmctlError as exc:
        return error_response(exc.message, exc.status)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error_response(exc.reason, exc.status)
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response("internal error; see the server log", 500)


def _relative_path(request: web.Request) -> str:
    """The path without a ``/printers/<name>`` prefix, for the open-path check."""
    path = request.path
    if path.startswith("/printers/"):
        parts = path.split("/", 3)
        path = "/" + parts[3] if len(parts) > 3 else "/"
    return path


def api_key_of(request: web.Request) -> str | None:
    key = request.headers.get("X-Api-Key") or request.query.get("apikey")
    authorization = request.headers.get("Authorization", "")
    if not key and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or None


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    farm = request.app[FARM]
    key = api_key_of(request)
    principal: Principal | None = None
    if key:
        principal = await farm.auth.check_key(key)
        if principal is None:
            return error_response("invalid API key", 403)
    elif (token := request.cookies.get(SESSION_COOKIE)) is not None:
        principal = farm.auth.session(token)
    request[PRINCIPAL] = principal
    path = _relative_path(request)
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return await handler(request)
    if principal is None:
        return error_response("an API key is required (X-Api-Key header, apikey parameter or Bearer token)", 403)
    needed = Role.VIEWER if request.method in ("GET", "HEAD", "OPTIONS") else Role.OPERATOR
    if not principal.role.allows(needed):
        return error_response(f"the {principal.role.name.lower()} role may not change anything", 403)
    return await handler(request)


def require(request: web.Request, role: Role) -> Principal:
    """For routes that need more than the method implies (user management, system commands)."""
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None or not principal.role.allows(role):
        raise FarmctlError(f"this needs the {role.name.lower()} role", 403)
    return principal


def farm_of(request: web.Request) -> Farm:
    return request.app[FARM]


def printer_of(request: web.Request) -> FarmPrinter:
    """The printer a request addresses: ``/printers/<name>/``, the port's own printer, or the default."""
    farm = request.app[FARM]
    name = request.match_info.get("printer") or request.app.get(PRINTER_NAME)
    if name:
        return farm.printer(name)
    default = farm.default_printer()
    if default is None:
        raise FarmctlError("several printers: address one as /printers/<name>/... or mark one default", 404)
    return default


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


RouteAdder = Callable[[web.Application, str], None]


def _surfaces() -> list[tuple[RouteAdder, bool]]:
    """Each API surface's ``add_routes(app, prefix)`` and whether it is per printer."""
    from farmctl.http import continuousprint, dashboard, farm_api, octoprint, push

    return [(continuousprint.add_farm_routes, False), (continuousprint.add_routes, True),
            (octoprint.add_routes, True), (push.add_routes, True), (dashboard.add_routes, False),
            (farm_api.add_routes, False)]


def build_main_app(farm: Farm) -> web.Application:
    app = web.Application(middlewares=[errors, authenticate], client_max_size=farm.max_upload)
    app[FARM] = farm
    for add, per_printer in _surfaces():
        if per_printer:
            add(app, "/printers/{printer}")
        add(app, "")
    return app


def build_printer_app(farm: Farm, name: str) -> web.Application:
    """A port that is one printer's complete OctoPrint (farm managers drop path prefixes)."""
    app = web.Application(middlewares=[errors, authenticate], client_max_size=farm.max_upload)
    app[FARM] = farm
    app[PRINTER_NAME] = name
    for add, per_printer in _surfaces():
        if per_printer:
            add(app, "")
    return app
