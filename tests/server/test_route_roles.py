"""Every route the app serves has a row in the route table, and answers each role as that row says.

The walk reads the router itself, so a route added without a row fails here, and a handler whose
own check disagrees with its row (an operator refused where the row says operator) fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from farmctl.auth import Role
from farmctl.http.app import build_main_app, build_printer_app
from farmctl.http.openapi import document
from farmctl.http.route_table import ENDPOINTS, PRINTER_PREFIX, Access, endpoint_for

ROUTES_DOC = Path(__file__).parents[2] / "docs" / "routes.md"
SAMPLE = {"printer": "p1", "name": "p1", "location": "local", "path": "a.gcode", "token": "no-such-token",
          "id": "1", "source": "core", "action": "reboot", "server": "0", "session": "s",
          "filename": "css/app.css"}
ROLES: list[Role | None] = [None, Role.VIEWER, Role.OPERATOR, Role.ADMIN]
ACCESS_REFUSALS = re.compile(r"an API key is required|this needs the \w+ role")


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, canonical path) of every route, HEAD folded into GET as aiohttp adds it."""
    seen = []
    for route in app.router.routes():
        if route.method != "HEAD" and (route.method, route.resource.canonical) not in seen:
            seen.append((route.method, route.resource.canonical))
    return seen


def _concrete(canonical: str) -> str:
    if canonical == "/static":
        canonical = "/static/{filename}"
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], canonical)


async def test_every_route_has_a_row_and_every_row_a_route(inproc) -> None:
    main = build_main_app(inproc.farm)
    printer_port = build_printer_app(inproc.farm, "p1")
    missing = [f"{m} {p}" for app in (main, printer_port) for m, p in _routes(app) if endpoint_for(m, p) is None]
    assert not missing, f"routes without a row in farmctl/http/route_table.py: {missing}"
    served = {(m, "/static/{filename}" if p == "/static" else p) for m, p in _routes(main)}
    for endpoint in ENDPOINTS:
        assert (endpoint.method, endpoint.path) in served, f"row without a route: {endpoint.key}"
        if endpoint.per_printer:
            assert (endpoint.method, PRINTER_PREFIX + endpoint.path) in served, endpoint.key


async def test_openapi_describes_exactly_the_routes_of_the_main_port(inproc) -> None:
    response = await inproc.client.get("/openapi.json")
    assert response.status == 200
    described = await response.json()
    assert described == document() and described["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, item in described["paths"].items() for method in item}
    served = {(m, "/static/{filename}" if p == "/static" else p) for m, p in _routes(build_main_app(inproc.farm))}
    assert operations == served
    for (method, path) in served:
        operation = described["paths"][path][method.lower()]
        assert operation["x-farmctl-access"] == endpoint_for(method, path).access.value
        assert operation["summary"]


def _refused(status: int, body: object) -> bool:
    return status == 403 and isinstance(body, dict) and bool(ACCESS_REFUSALS.search(str(body.get("error"))))


@pytest.mark.parametrize("port", ["main", "printer"])
async def test_each_role_gets_what_its_row_allows_on_every_route(inproc, port: str) -> None:
    (inproc.uploads / "a.gcode").write_bytes(b"G28\nG1 X10\n")
    farm = inproc.farm
    keys = {role: await farm.auth.add_key(f"walk-{role.value}", role) for role in Role}
    app = build_main_app(farm) if port == "main" else build_printer_app(farm, "p1")
    wrong: list[str] = []
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for role in ROLES:  # least first: the admin's changes come last
            headers = {"X-Api-Key": keys[role]} if role else {}
            for method, canonical in _routes(app):
                access = endpoint_for(method, canonical).access
                response = await client.request(method, _concrete(canonical), headers=headers)
                body = await response.json() if response.content_type == "application/json" else None
                refused = _refused(response.status, body)
                if refused == access.allows(role):
                    wrong.append(f"{role and role.value} {method} {canonical} ({access.value}): "
                                 f"{response.status} {body}")
    assert not wrong, "\n".join(wrong)


def _markdown() -> str:
    lines = ["| method | path | no key | viewer | operator | admin | what |", "|---|---|---|---|---|---|---|"]
    for e in ENDPOINTS:
        marks = " | ".join("yes" if e.access.allows(role) else "-" for role in ROLES)
        where = f"{'[/printers/{printer}]' if e.per_printer else ''}{e.path}"
        lines.append(f"| {e.method} | `{where}` | {marks} | {e.summary} |")
    return "\n".join(lines)


def test_docs_show_the_route_table() -> None:
    assert _markdown() in ROUTES_DOC.read_text(), "docs/routes.md is out of date:\n" + _markdown()
    assert Access.OPEN.allows(None) and not Access.VIEWER.allows(None)
