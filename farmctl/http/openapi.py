"""``GET /openapi.json``: an OpenAPI 3 description of the main port, built from the route table.

Each row of :mod:`farmctl.http.route_table` becomes one operation, and a per-printer row also
``/printers/{printer}/...``; a test compares the paths with the app's router, so the description
cannot drift from what is served. Every error answer is ``{"error": "..."}``.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from farmctl import __version__
from farmctl.http.route_table import ENDPOINTS, PRINTER_PREFIX, Access, Body, Endpoint

_PARAM = re.compile(r"\{(\w+)\}")
_ERROR = {"description": "a refusal or bad input", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_TAGS = (("/farm/plugin/continuousprint", "Continuous Print (farm)"), ("/plugin/continuousprint", "Continuous Print"),
         ("/api/farm", "Dashboard"), ("/static", "Dashboard"), ("/openapi.json", "Dashboard"))


def _tag(path: str) -> str:
    if path == "/":
        return "Dashboard"
    return next((tag for prefix, tag in _TAGS if path.startswith(prefix)), "OctoPrint")


def _operation(endpoint: Endpoint, path: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _PARAM.findall(path)]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in endpoint.query]
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [_tag(endpoint.path)],
        "operationId": f"{endpoint.method.lower()} {path}",
        "responses": {"default": {"description": "the answer"}, "4XX": _ERROR},
        "x-farmctl-access": endpoint.access.value,
    }
    if endpoint.access is Access.OPEN:
        operation["security"] = []
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not Body.NONE:
        schema = endpoint.schema or {"type": "object"}
        operation["requestBody"] = {"required": False, "content": {kind: {"schema": schema}
                                                                   for kind in endpoint.body.value}}
    return operation


def paths() -> dict[str, dict[str, Any]]:
    """OpenAPI's ``paths``: the main port's plain paths and, for per-printer rows, the prefixed ones."""
    out: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        variants = [endpoint.path] + ([PRINTER_PREFIX + endpoint.path] if endpoint.per_printer else [])
        for path in variants:
            out.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, path)
    return out


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "farmctl", "version": __version__, "description": (
            "A print farm's HTTP API: OctoPrint's REST API and push channel per printer, Continuous "
            "Print's queue, and the dashboard's own reads. Per-printer paths are served under "
            "/printers/{printer}/, at the root of a printer's own api_port, and at the main port's "
            "root for the default printer. x-farmctl-access names the least role that may call.")},
        "paths": paths(),
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
        },
        "security": [{"apiKey": []}],
    }


_DOCUMENT = document()


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(_DOCUMENT)


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/openapi.json", openapi_json)
