"""The aiohttp applications: the main port (the farm, ``/printers/<name>/...`` and the default
printer's OctoPrint paths) and one port per printer that looks like a complete OctoPrint.

Two middlewares do what every route needs: turn a FarmctlError into ``{"error": ...}`` with its
status, and find who is calling (API key, Bearer, ``apikey`` parameter, session cookie, or a call
signed by another node of the farm, :mod:`farmctl.auth.peers`) and check it against the route's
row in :mod:`farmctl.http.route_table`. A request that carries the
session cookie and changes something must come from farmctl's own page (``Origin``/``Referer``)
and send JSON, so another web page on the LAN cannot act with a logged-in browser's cookie.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from yarl import URL

from farmctl.auth import Principal, Role, Throttled
from farmctl.auth.peers import is_signed
from farmctl.errors import FarmctlError
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http.params import READ_BODY
from farmctl.http.route_table import Body, Endpoint, endpoint_for

log = logging.getLogger(__name__)

FARM = web.AppKey("farm", Farm)
PRINTER_NAME = web.AppKey("printer_name", str)  # set on a printer's own port
PRINCIPAL = web.RequestKey("principal", object)  # Principal | None: who is calling
SESSION_COOKIE = "farmctl_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SLASHES = re.compile(r"/{2,}")
PEER_MAX_BODY = 1 << 20
"""Bytes a signed call from another node may carry (actions and settings; uploads never go this way)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Expected failures become ``{"error": ...}``; an unexpected one is logged and becomes a 500."""
    try:
        return await handler(request)
    except FarmctlError as exc:
        response = error_response(exc.message, exc.status)
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error_response(exc.reason, exc.status)
        raise
    except ConnectionResetError:  # the client hung up mid-request: nobody reads an answer
        log.info("%s %s: the client went away before the request ended", request.method, request.path)
        return error_response("the connection was lost", 400)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response("internal error; see the server log", 500)


def api_key_of(request: web.Request) -> str | None:
    key = request.headers.get("X-Api-Key") or request.query.get("apikey")
    authorization = request.headers.get("Authorization", "")
    if not key and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or None


async def _merged_slashes(request: web.Request) -> web.Request | None:
    """The request routed as if runs of slashes were one (``//api/printer/bed``, which Home
    Assistant's OctoPrint client sends and OctoPrint serves), or None when that matches nothing."""
    raw = request.rel_url.raw_path
    if "//" not in raw:
        return None
    url = URL.build(path=_SLASHES.sub("/", raw), query_string=request.rel_url.raw_query_string, encoded=True)
    clone = request.clone(rel_url=url)
    match = await request.app.router.resolve(clone)
    if match.http_exception is not None:
        return None
    match.add_app(request.app)
    match.freeze()
    clone._match_info = match  # what aiohttp's own dispatch sets; no public setter exists
    return clone


def _csrf_refusal(request: web.Request, endpoint: Endpoint) -> web.Response | None:
    """Why a change carried by the session cookie is refused: not from farmctl's own origin, or a
    body a cross-site form could send (text/plain, urlencoded; multipart only for uploads)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    try:
        authority = URL(origin).raw_authority if origin and origin != "null" else ""
    except ValueError:
        authority = ""
    if not authority or authority.lower() != request.host.lower():
        return error_response("a change with a session cookie must come from farmctl's own page "
                              "(Origin or Referer); scripts send an API key instead", 403)
    if request.body_exists and request.content_type != "application/json" and not (
            endpoint.body is Body.UPLOAD and request.content_type == "multipart/form-data"):
        return error_response("a change with a session cookie must send its body as application/json", 415)
    return None


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling, and whether the route's row lets them. The innermost middleware, so
    ``handler`` is the route's own and a request rerouted by :func:`_merged_slashes` can replace it."""
    signed_target = request.raw_path  # as the caller signed it, before any rerouting
    if request.match_info.http_exception is not None:
        rerouted = await _merged_slashes(request)
        if rerouted is None:
            return await handler(request)  # the router's 404 or 405
        request, handler = rerouted, rerouted.match_info.handler
    endpoint = endpoint_for(request.method, request.match_info.route.resource.canonical)
    if endpoint is None:
        log.error("%s %s has no row in the route table; refused", request.method, request.path)
        return error_response("this route has no access rule", 403)
    farm = request.app[FARM]
    key = api_key_of(request)
    cookie = None if key else request.cookies.get(SESSION_COOKIE)
    principal: Principal | None = None
    if is_signed(request.headers):
        principal = await _peer_principal(request, signed_target)
        if principal is None:
            return error_response("the call is signed as from another farmctl node, but the signature is not valid "
                                  "(another farm's secret, clocks more than a minute apart, or a replay)", 403)
        cookie = None
    elif key:
        principal = await farm.auth.check_key(key)
        if principal is None:
            return error_response("invalid API key", 403)
    elif cookie is not None:
        principal = farm.auth.session(cookie)
    request[PRINCIPAL] = principal
    if not endpoint.access.allows(None if principal is None else principal.role):
        if principal is None:
            return error_response("an API key is required (X-Api-Key header, apikey parameter or Bearer token)",
                                  403)
        return error_response(f"this needs the {endpoint.access.value} role", 403)
    if cookie is not None and request.method not in SAFE_METHODS:
        if (refusal := _csrf_refusal(request, endpoint)) is not None:
            return refusal
    return await handler(request)


async def _peer_principal(request: web.Request, target: str) -> Principal | None:
    """Who a signed call from another node acts as; None if its signature does not verify."""
    if request.body_exists and request.content_length is None:  # chunked: no bound to check up front
        raise FarmctlError("a call from another node must send Content-Length with its body", 411)
    if (request.content_length or 0) > PEER_MAX_BODY:
        raise FarmctlError(f"a call from another node may carry at most {PEER_MAX_BODY} bytes", 413)
    body = await request.read() if request.body_exists else b""  # kept: form handlers read it again
    request[READ_BODY] = body  # the stream is spent: handlers that stream the body read this first
    farm = request.app[FARM]
    call = farm.peer_auth.verify(request.method, target, request.headers, body, farm.clock())
    if call is None:
        log.warning("%s %s: a call signed as from node %r did not verify; refused", request.method, request.path,
                    request.headers.get("X-Farmctl-Node", "")[:40])
        return None
    return call.principal


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
    from farmctl.http import continuousprint, farm_api, octoprint, openapi, push

    return [(continuousprint.add_farm_routes, False), (continuousprint.add_routes, True),
            (octoprint.add_routes, True), (push.add_routes, True), (farm_api.add_routes, False),
            (openapi.add_routes, False)]


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
