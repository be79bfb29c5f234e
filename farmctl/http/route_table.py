"""Every HTTP route farmctl serves, in one table: who may call it, what it does, what it takes.

The authentication middleware reads each row's ``access``; ``/openapi.json`` is built from the
same rows, and a test walks the app's router against them, so a route without a row fails the
suite instead of going unguarded. Paths are as registered without ``/printers/{printer}``: a row
marked ``per_printer`` is served there too, on each printer's own port, and (for the default
printer) on the main port's plain path. Adding a route means adding its row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from farmctl.auth import Role

Schema = dict[str, Any]


class Access(Enum):
    """Who may call a route: anyone (``OPEN``), or a key or session of at least this role."""

    OPEN = "open"
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def role(self) -> Role | None:
        return None if self is Access.OPEN else Role(self.value)

    def allows(self, role: Role | None) -> bool:
        needed = self.role
        return needed is None or (role is not None and role.allows(needed))


class Body(Enum):
    """How a route's request body is encoded (the media types of its OpenAPI requestBody)."""

    NONE = ()
    JSON = ("application/json",)
    FORM = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    """Continuous Print's endpoints: its own page sends forms, scripts often JSON."""
    UPLOAD = ("multipart/form-data",)


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    access: Access
    summary: str
    per_printer: bool = True
    body: Body = Body.NONE
    schema: Schema | None = None
    query: tuple[tuple[str, Schema], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def _obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _command(*names: str, **properties: Schema) -> Schema:
    return _obj(("command",), command={"type": "string", "enum": list(names)}, **properties)


_TEXT: Schema = {"type": "string"}
_NUMBER: Schema = {"type": "number"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_FLAG: Schema = {"oneOf": [_BOOL, _TEXT]}
_IDS: Schema = {"oneOf": [{"type": "array", "items": _INT}, _TEXT]}
_JSON_TEXT: Schema = {"type": "string", "description": "a JSON document as text"}
_TARGETS: Schema = {"type": "object", "additionalProperties": _NUMBER}

_OPEN, _VIEWER, _OPERATOR, _ADMIN = Access.OPEN, Access.VIEWER, Access.OPERATOR, Access.ADMIN
_CP = "/plugin/continuousprint"
_FARM_CP = "/farm/plugin/continuousprint"

_OCTOPRINT = [
    Endpoint("GET", "/", _OPEN, "the dashboard (main port) or a printer port's own page", per_printer=False),
    Endpoint("GET", "/static/{filename}", _OPEN, "the dashboard's files", per_printer=False),
    Endpoint("GET", "/openapi.json", _OPEN, "this description of the HTTP API", per_printer=False),
    Endpoint("GET", "/api/version", _VIEWER, "OctoPrint's API and server version"),
    Endpoint("GET", "/api/server", _VIEWER, "the server's version and safe mode"),
    Endpoint("POST", "/api/login", _OPEN, "log in with user and password (or passively with a key); sets a session",
             body=Body.JSON, schema=_obj(user=_TEXT, **{"pass": _TEXT}, remember=_FLAG, passive=_FLAG)),
    Endpoint("POST", "/api/logout", _VIEWER, "end the caller's session"),
    Endpoint("GET", "/api/currentuser", _VIEWER, "the caller's name, permissions and groups"),
    Endpoint("GET", "/api/users", _ADMIN, "every user"),
    Endpoint("GET", "/plugin/appkeys/probe", _OPEN, "whether the app-key flow is available"),
    Endpoint("POST", "/plugin/appkeys/request", _OPEN, "an app asks for a key; a person decides",
             body=Body.JSON, schema=_obj(("app",), app=_TEXT, user=_TEXT)),
    Endpoint("GET", "/plugin/appkeys/request/{token}", _OPEN, "an app polls for its key"),
    Endpoint("POST", "/plugin/appkeys/decision/{token}", _ADMIN, "allow or deny an app's request",
             body=Body.JSON, schema=_obj(("decision",), decision={"oneOf": [_BOOL, {"enum": ["allow", "deny"]}]},
                                         role={"enum": ["viewer", "operator", "admin"]})),
    Endpoint("GET", "/api/connection", _VIEWER, "the printer's connection and the options it offers"),
    Endpoint("POST", "/api/connection", _OPERATOR, "connect or disconnect the printer", body=Body.JSON,
             schema=_command("connect", "disconnect", "fake_ack", port=_TEXT, baudrate=_INT, printerProfile=_TEXT)),
    Endpoint("GET", "/api/printer", _VIEWER, "temperatures and state", query=(("history", _FLAG), ("limit", _INT),
                                                                                ("exclude", _TEXT))),
    Endpoint("POST", "/api/printer/command", _OPERATOR, "send G-code commands", body=Body.JSON,
             schema=_obj(command=_TEXT, commands={"type": "array", "items": _TEXT})),
    Endpoint("GET", "/api/printer/command/custom", _VIEWER, "custom control buttons (none)"),
    Endpoint("GET", "/api/printer/tool", _VIEWER, "the tools' temperatures", query=(("history", _FLAG),)),
    Endpoint("POST", "/api/printer/tool", _OPERATOR, "tool targets, offsets, selection, extrusion, flow",
             body=Body.JSON, schema=_command("target", "offset", "select", "extrude", "flowrate", targets=_TARGETS,
                                             offsets=_TARGETS, tool=_TEXT, amount=_NUMBER, speed=_NUMBER,
                                             factor=_NUMBER)),
    Endpoint("GET", "/api/printer/bed", _VIEWER, "the bed's temperature", query=(("history", _FLAG),)),
    Endpoint("POST", "/api/printer/bed", _OPERATOR, "the bed's target or offset", body=Body.JSON,
             schema=_command("target", "offset", target=_NUMBER, offset=_NUMBER)),
    Endpoint("POST", "/api/printer/printhead", _OPERATOR, "jog, home or feed rate", body=Body.JSON,
             schema=_command("jog", "home", "feedrate", x=_NUMBER, y=_NUMBER, z=_NUMBER, absolute=_BOOL,
                             speed=_NUMBER, axes={"type": "array", "items": _TEXT}, factor=_NUMBER)),
    Endpoint("GET", "/api/printer/sd", _VIEWER, "whether the printer's SD card is ready"),
    Endpoint("POST", "/api/printer/sd", _OPERATOR, "mount and list (init), list again (refresh) or release the card",
             body=Body.JSON, schema=_command("init", "refresh", "release")),
    Endpoint("GET", "/api/job", _VIEWER, "the selected or printing file and its progress"),
    Endpoint("POST", "/api/job", _OPERATOR, "start, restart, cancel, pause or resume the print", body=Body.JSON,
             schema=_command("start", "restart", "cancel", "pause", action={"enum": ["pause", "resume", "toggle"]})),
    Endpoint("GET", "/api/files", _VIEWER, "every upload, and the files of the printer's SD card",
             query=(("recursive", _FLAG),)),
    Endpoint("GET", "/api/files/{location}", _VIEWER, "the files of one location (local or sdcard)",
             query=(("recursive", _FLAG),)),
    Endpoint("POST", "/api/files/{location}", _OPERATOR, "upload a file (part 'file'; to sdcard: M28/M29) or make a folder",
             body=Body.UPLOAD, schema=_obj(file={"type": "string", "format": "binary"}, path=_TEXT, select=_TEXT,
                                           print=_TEXT, foldername=_TEXT)),
    Endpoint("GET", "/api/files/{location}/{path}", _VIEWER, "one upload or folder", query=(("recursive", _FLAG),)),
    Endpoint("POST", "/api/files/{location}/{path}", _OPERATOR, "select, unselect, copy or move an upload",
             body=Body.JSON, schema=_command("select", "unselect", "copy", "move", print=_FLAG, destination=_TEXT)),
    Endpoint("DELETE", "/api/files/{location}/{path}", _OPERATOR, "delete an upload or folder"),
    Endpoint("GET", "/downloads/files/local/{path}", _VIEWER, "download an upload"),
    Endpoint("GET", "/api/settings", _VIEWER, "the printer's settings"),
    Endpoint("POST", "/api/settings", _ADMIN, "rename the printer (appearance.name); Continuous Print's settings",
             body=Body.JSON, schema=_obj(appearance=_obj(name=_TEXT), plugins=_obj(continuousprint=_obj(
                 cp_printer_profile=_TEXT, bed_cooldown_enabled=_BOOL, bed_cooldown_threshold=_NUMBER,
                 bed_cooldown_timeout=_NUMBER)))),
    Endpoint("GET", "/api/printerprofiles", _VIEWER, "the printer's profile"),
    Endpoint("GET", "/api/printerprofiles/{id}", _VIEWER, "one printer profile"),
    Endpoint("GET", "/api/system/commands", _VIEWER, "system commands (listed, never run)"),
    Endpoint("GET", "/api/system/commands/{source}", _VIEWER, "the system commands of one source"),
    Endpoint("POST", "/api/system/commands/{source}/{action}", _ADMIN, "refused: farmctl runs no system command"),
    Endpoint("GET", "/api/plugin/action_command_prompt", _VIEWER, "the firmware's open question"),
    Endpoint("POST", "/api/plugin/action_command_prompt", _OPERATOR, "answer the firmware's question",
             body=Body.JSON, schema=_command("select", choice=_INT)),
    Endpoint("GET", "/sockjs/websocket", _OPEN, "the push channel (authenticates inside the socket)"),
    Endpoint("GET", "/sockjs/info", _OPEN, "SockJS's info"),
    Endpoint("GET", "/sockjs/{server}/{session}/websocket", _OPEN, "the push channel, SockJS-framed"),
]

_DASHBOARD = [
    Endpoint("GET", "/api/farm/summary", _VIEWER, "every printer, the queue and recent history", per_printer=False),
    *[Endpoint(method, path, access, summary, per_printer=False, body=body, schema=schema, query=query)
      for method, path, access, summary, body, schema, query in (
        ("GET", "/api/farm/files", _VIEWER, "a folder's files and folders, with analysis and thumbnails",
         Body.NONE, None, (("folder", _TEXT), ("recursive", _FLAG))),
        ("POST", "/api/farm/files", _OPERATOR, "upload a file (part 'file'), streamed to disk", Body.UPLOAD,
         _obj(("file",), file={"type": "string", "format": "binary"}), (("folder", _TEXT),)),
        ("GET", "/api/farm/files/thumbnail/{id}", _VIEWER, "a file's slicer thumbnail number {id}, cached at upload",
         Body.NONE, None, (("path", _TEXT),)),
        ("GET", "/api/farm/files/download", _VIEWER, "download a file", Body.NONE, None, (("path", _TEXT),)),
        ("POST", "/api/farm/files/folder", _OPERATOR, "make a folder", Body.JSON, _obj(("path",), path=_TEXT), ()),
        ("POST", "/api/farm/files/move", _OPERATOR, "rename ('to') or move into a folder ('folder')", Body.JSON,
         _obj(("path",), path=_TEXT, to=_TEXT, folder=_TEXT), ()),
        ("POST", "/api/farm/files/delete", _OPERATOR, "delete a file or a folder", Body.JSON,
         _obj(("path",), path=_TEXT), ()),
        ("POST", "/api/farm/files/queue", _OPERATOR, "queue a file as a new job", Body.JSON,
         _obj(("path",), path=_TEXT, count=_INT, name=_TEXT, queue=_TEXT, draft=_BOOL), ()),
        ("POST", "/api/farm/files/print", _OPERATOR, "print a file now on the ready printers named", Body.JSON,
         _obj(("path", "printers"), path=_TEXT, printers={"type": "array", "items": _TEXT}), ()),
        ("GET", "/api/farm/queue", _VIEWER, "one page of a queue's jobs", Body.NONE, None,
         (("queue", _TEXT), ("offset", _INT), ("limit", _INT))),
        ("POST", "/api/farm/queue/jobs", _OPERATOR, "a new job with its sets", Body.JSON,
         _obj(name=_TEXT, queue=_TEXT, count=_INT, draft=_BOOL, sets={"type": "array", "items": _obj()}), ()),
        ("POST", "/api/farm/queue/jobs/{id}", _OPERATOR, "edit a job in place (Continuous Print's job/edit fields)",
         Body.JSON, _obj(name=_TEXT, count=_INT, remaining=_INT, draft=_BOOL,
                         sets={"type": "array", "items": _obj()}), ()),
        ("POST", "/api/farm/queue/jobs/{id}/move", _OPERATOR, "move a job after another, or to another queue",
         Body.JSON, _obj(after_id={"oneOf": [_INT, {"type": "null"}]}, to_queue=_TEXT), ()),
        ("POST", "/api/farm/queue/remove", _OPERATOR, "remove jobs (local ones go to the archive)", Body.JSON,
         _obj(("ids",), queue=_TEXT, ids={"type": "array", "items": _INT}), ()),
        ("POST", "/api/farm/queue/reset", _OPERATOR, "owe every copy of jobs again", Body.JSON,
         _obj(("ids",), queue=_TEXT, ids={"type": "array", "items": _INT}), ()),
        ("POST", "/api/farm/queue/export", _OPERATOR, "export jobs as .gjob files into the uploads", Body.JSON,
         _obj(("ids",), ids={"type": "array", "items": _INT}), ()),
        ("POST", "/api/farm/queue/import", _OPERATOR, "import an uploaded .gjob as a draft job", Body.JSON,
         _obj(("path",), path=_TEXT, queue=_TEXT), ()),
        ("GET", "/api/farm/forecast", _VIEWER, "when each queued copy is expected to print, and where", Body.NONE,
         None, (("changeover", _INT),)),
        ("GET", "/api/farm/history", _VIEWER, "one page of the print history, filtered", Body.NONE, None,
         (("printer", _TEXT), ("result", _TEXT), ("since", _TEXT), ("until", _TEXT), ("offset", _INT),
          ("limit", _INT))),
        ("GET", "/api/farm/statistics", _VIEWER, "success rate, hours, filament, failures by reason, per day",
         Body.NONE, None, (("printer", _TEXT), ("result", _TEXT), ("since", _TEXT), ("until", _TEXT))),
        ("GET", "/api/farm/history.csv", _VIEWER, "the filtered history as CSV", Body.NONE, None,
         (("printer", _TEXT), ("result", _TEXT), ("since", _TEXT), ("until", _TEXT))),
        ("GET", "/api/farm/access", _ADMIN, "API keys, users and roles", Body.NONE, None, ()),
        ("POST", "/api/farm/access/keys", _ADMIN, "a new API key with a role (shown once)", Body.JSON,
         _obj(("name",), name=_TEXT, role={"enum": ["viewer", "operator", "admin"]}, user=_TEXT), ()),
        ("POST", "/api/farm/access/keys/{id}/revoke", _ADMIN, "revoke an API key; its logins end", Body.NONE,
         None, ()),
        ("POST", "/api/farm/access/users", _ADMIN, "a new user who can log in", Body.JSON,
         _obj(("name", "password"), name=_TEXT, password=_TEXT, role={"enum": ["viewer", "operator", "admin"]}),
         ()),
        ("GET", "/api/farm/automation", _VIEWER, "scripts, preprocessors and event hooks", Body.NONE, None, ()),
        ("POST", "/api/farm/automation", _OPERATOR, "replace scripts, preprocessors and event hooks", Body.JSON,
         _obj(scripts=_obj(), preprocessors=_obj(), events=_obj()), ()),
        ("POST", "/api/farm/automation/simulate", _OPERATOR, "run a script and its preprocessor without a printer",
         Body.JSON, _obj(script=_TEXT, preprocessor=_TEXT, symbols=_obj(), event=_TEXT), ()),
    )],
    Endpoint("GET", "/api/farm/printers/{name}/terminal", _VIEWER, "a printer's terminal lines after 'since'",
             per_printer=False, query=(("since", _INT),)),
    Endpoint("GET", "/api/farm/me", _VIEWER, "who is calling (name and role)", per_printer=False),
    Endpoint("GET", "/api/farm/push", _VIEWER, "the dashboard's push channel (websocket): a snapshot, then diffs",
             per_printer=False, query=(("apikey", _TEXT), ("scope", {"enum": ["farm", "node"]}))),
    Endpoint("GET", "/api/farm/printers", _VIEWER, "every printer's card as the farm view shows it, every node's "
             "(scope=node: this node's only)", per_printer=False, query=(("scope", {"enum": ["farm", "node"]}),)),
    Endpoint("GET", "/api/farm/printers/{name}", _VIEWER, "a printer's card, 30 minutes of temperatures, its terminal",
             per_printer=False),
    Endpoint("POST", "/api/farm/printers/{name}/action", _OPERATOR, "one action on a printer (jog, pause, targets...)",
             per_printer=False, body=Body.JSON, schema=_obj(
                 ("action",), action={"enum": ["pause", "resume", "cancel", "jog", "home", "extrude", "targets",
                                               "cooldown", "fan", "motors_off", "emergency_stop", "connect",
                                               "disconnect", "card_init", "answer", "manage", "unmanage",
                                               "commands"]},
                 x=_NUMBER, y=_NUMBER, z=_NUMBER, axes={"type": "array", "items": _TEXT}, amount=_NUMBER,
                 targets=_TARGETS, percent=_NUMBER, choice=_INT, commands={"type": "array", "items": _TEXT})),
    Endpoint("PUT", "/api/farm/printers/{name}/tags", _OPERATOR, "a printer's groups", per_printer=False,
             body=Body.JSON, schema=_obj(("tags",), tags={"type": "array", "items": _TEXT})),
    Endpoint("PUT", "/api/farm/printers/{name}/maintenance", _OPERATOR, "start or end a printer's maintenance",
             per_printer=False, body=Body.JSON, schema=_obj(("on",), on=_BOOL, note=_TEXT)),
    Endpoint("POST", "/api/farm/bulk", _OPERATOR, "one action on several printers (pause, preheat, print...)",
             per_printer=False, body=Body.JSON, schema=_obj(
                 ("action", "printers"), action={"enum": ["pause", "resume", "cancel", "preheat", "cooldown",
                                                          "manage", "unmanage", "print"]},
                 printers={"type": "array", "items": _TEXT}, preset=_TEXT, path=_TEXT)),
    Endpoint("GET", "/api/farm/presets", _VIEWER, "the temperature presets", per_printer=False),
    Endpoint("PUT", "/api/farm/presets", _OPERATOR, "replace the temperature presets", per_printer=False,
             body=Body.JSON, schema=_obj(("presets",), presets={"type": "array", "items": _obj(
                 ("name", "tool", "bed"), name=_TEXT, tool=_NUMBER, bed=_NUMBER)})),
    Endpoint("GET", "/api/farm/demo", _VIEWER, "the demo farm's first-start offer (null once used)",
             per_printer=False),
    Endpoint("POST", "/api/farm/demo/start", _OPERATOR, "queue the demo job and manage every printer",
             per_printer=False),
    Endpoint("POST", "/api/farm/printers/{name}/materials", _OPERATOR, "the material loaded in each tool",
             per_printer=False, body=Body.JSON,
             schema=_obj(("materials",), materials={"type": "array", "items": {"oneOf": [_TEXT, {"type": "null"}]}})),
    Endpoint("POST", "/api/farm/printers/{name}/printer_profile", _OPERATOR,
             "the printer profile name queued sets' profiles are matched against", per_printer=False,
             body=Body.JSON, schema=_obj(("profile",), profile=_TEXT)),
    Endpoint("GET", "/api/farm/appkeys", _ADMIN, "app-key requests waiting for a person", per_printer=False),
    Endpoint("POST", "/api/farm/appkeys/{id}", _ADMIN, "allow or deny an app-key request", per_printer=False,
             body=Body.JSON, schema=_obj(("decision",), decision={"oneOf": [_BOOL, {"enum": ["allow", "deny"]}]},
                                         role={"enum": ["viewer", "operator", "admin"]})),
]

_SET: Schema = _obj(("path",), path=_TEXT, sd=_FLAG, count=_INT, jobDraft=_FLAG, job=_INT, jobName=_TEXT,
                    queue=_TEXT, materials=_JSON_TEXT, profiles=_JSON_TEXT, json=_JSON_TEXT)
_QUEUE_IDS: Schema = _obj(("job_ids",), queue=_TEXT, job_ids=_IDS)
_JSON_FIELD: Schema = _obj(json=_JSON_TEXT)


def _continuous_print(base: str, per_printer: bool, whose: str) -> list[Endpoint]:
    def row(method: str, path: str, access: Access, summary: str, schema: Schema | None = None) -> Endpoint:
        return Endpoint(method, f"{base}/{path}", access, summary, per_printer=per_printer,
                        body=Body.FORM if method == "POST" else Body.NONE, schema=schema)

    return [
        row("GET", "state/get", _VIEWER, f"{whose} state and the queue"),
        row("POST", "set_active", _OPERATOR, f"start or stop managing {whose} printing",
            _obj(("active",), active=_FLAG)),
        row("POST", "set/add", _OPERATOR, "add a set (a file with a count) to a job", _SET),
        row("POST", "job/add", _OPERATOR, "add an empty job", _obj(("name",), name=_TEXT, queue=_TEXT)),
        row("POST", "job/mv", _OPERATOR, "move a job in or between queues",
            _obj(("id",), id=_INT, after_id=_INT, src_queue=_TEXT, dest_queue=_TEXT)),
        row("POST", "job/edit", _OPERATOR, "change a job and its sets", _obj(("id",), id=_INT, json=_JSON_TEXT)),
        row("POST", "job/import", _OPERATOR, "import a .gjob file", _obj(("path",), path=_TEXT, queue=_TEXT)),
        row("POST", "job/export", _OPERATOR, "export jobs as .gjob files", _obj(("job_ids",), job_ids=_IDS)),
        row("POST", "job/rm", _OPERATOR, "remove jobs", _QUEUE_IDS),
        row("POST", "job/reset", _OPERATOR, "reset jobs' counts", _QUEUE_IDS),
        row("GET", "history/get", _VIEWER, "the print history"),
        row("POST", "history/reset", _OPERATOR, "clear the print history"),
        row("GET", "queues/get", _VIEWER, "the queues"),
        row("POST", "queues/edit", _OPERATOR, "change the queues", _JSON_FIELD),
        row("GET", "automation/get", _VIEWER, "event scripts and preprocessors"),
        row("POST", "automation/edit", _OPERATOR, "change event scripts and preprocessors", _JSON_FIELD),
        row("POST", "automation/external", _OPERATOR, "values the preprocessors read (JSON object)",
            {"type": "object"}),
        row("POST", "automation/simulate", _OPERATOR, "run event scripts on sample values",
            _obj(("automation",), automation=_JSON_TEXT, symtable=_JSON_TEXT)),
    ]


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    _OCTOPRINT + _DASHBOARD + _continuous_print(_CP, True, "the printer's")
    + _continuous_print(_FARM_CP, False, "every printer's"))
BY_KEY: dict[tuple[str, str], Endpoint] = {e.key: e for e in ENDPOINTS}
assert len(BY_KEY) == len(ENDPOINTS), "a route has two rows"

PRINTER_PREFIX = "/printers/{printer}"


def endpoint_for(method: str, canonical: str) -> Endpoint | None:
    """The row of a route as aiohttp names it (``/printers/{printer}/api/job``, ``/static``,
    ``/api/files/{location}/{path}``); HEAD is GET's."""
    if method == "HEAD":
        method = "GET"
    if canonical.startswith(PRINTER_PREFIX):
        row = BY_KEY.get((method, canonical[len(PRINTER_PREFIX):] or "/"))
        return row if row is not None and row.per_printer else None
    if canonical == "/static":
        canonical = "/static/{filename}"
    return BY_KEY.get((method, canonical))
