"""OctoPrint's REST API, one printer at a time, so slicers, farm managers, Home Assistant and
scripts written for OctoPrint work unchanged.

``add_routes(app, "")`` serves a printer's own port (and the main port's default printer);
``add_routes(app, "/printers/{printer}")`` serves each printer under the main port. Every
handler finds its printer with ``printer_of(request)``. The routes live in one module per area.
"""

from __future__ import annotations

from aiohttp import web

from farmctl.http import (
    octoprint_auth, octoprint_files, octoprint_job, octoprint_printer, octoprint_prompt, octoprint_sd, octoprint_settings,
)
from farmctl.http.app import PRINTER_NAME

_AREAS = (octoprint_auth, octoprint_sd, octoprint_printer, octoprint_job, octoprint_files, octoprint_settings,
          octoprint_prompt)


def add_routes(app: web.Application, prefix: str) -> None:
    for area in _AREAS:
        area.add_routes(app, prefix)
    if prefix == "" and PRINTER_NAME in app:  # on the main port "/" is the dashboard's
        app.router.add_get("/", octoprint_settings.index)
