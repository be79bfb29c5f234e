"""OctoPrint's files API on farmctl's uploads folder (shared by every printer of the farm).

Uploads are read part by part from the multipart stream and handed to
``UploadFolder.save_stream`` in chunks, so a file of any size never sits in memory; the folder
checks the name, the size limit and analyses the G-code on the way.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from farmctl.errors import FarmctlError
from farmctl.farm import control, file_ops
from farmctl.farm.farm import Farm
from farmctl.files import ALLOWED_EXTENSIONS, FileInfo, FileType
from farmctl.files.paths import has_allowed_extension
from farmctl.http.app import farm_of, printer_of
from farmctl.http.multipart import chunks, forget, parts
from farmctl.http.octoprint_common import (
    base_url, command_body, command_of, no_content, truthy,
)
from farmctl.http import octoprint_sd
from farmctl.printer import PrinterState

MAX_FIELD_BYTES = 4096
_LOCATIONS = ("local", "sdcard")
_PLAIN_FILENAME = re.compile(r'(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def _refs(request: web.Request, info: FileInfo) -> dict[str, str]:
    quoted = quote(info.path)
    refs = {"resource": f"{base_url(request)}/api/files/local/{quoted}"}
    if info.type == FileType.MACHINECODE:
        refs["download"] = f"{base_url(request)}/downloads/files/local/{quoted}"
    return refs


def file_record(request: web.Request, info: FileInfo, children: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"name": info.name, "display": info.name, "path": info.path, "origin": "local",
                              "size": info.size, "date": info.date, "refs": _refs(request, info)}
    if info.type == FileType.FOLDER:
        record |= {"type": "folder", "typePath": ["folder"]}
        if children is not None:
            record["children"] = children
        return record
    record |= {"type": "machinecode", "typePath": ["machinecode", "gcode"], "hash": info.hash}
    if info.analysis is not None:
        record["gcodeAnalysis"] = info.analysis.to_octoprint()
    return record


def _tree(request: web.Request, infos: list[FileInfo], recursive: bool, under: str = "") -> list[dict[str, Any]]:
    """Nest a flat, path-sorted listing: each folder holds its children when recursive, and an
    empty ``children`` list when not (as OctoPrint lists a folder it did not descend into)."""
    prefix = under.strip("/") + "/" if under.strip("/") else ""
    records = []
    for info in infos:
        rest = info.path[len(prefix):] if info.path.startswith(prefix) else None
        if rest is None or "/" in rest:
            continue
        children = None
        if info.type == FileType.FOLDER:
            children = _tree(request, infos, recursive, info.path) if recursive else []
        records.append(file_record(request, info, children))
    return records


def _on_card(request: web.Request) -> bool:
    """Whether the request is about the printer's SD card (``sdcard``) rather than the uploads (``local``)."""
    location = request.match_info.get("location", "local")
    if location not in _LOCATIONS:
        raise FarmctlError(f"unknown file location {location!r}; known: local, sdcard", 404)
    return location == "sdcard"


async def files_get(request: web.Request) -> web.Response:
    if _on_card(request):
        return await octoprint_sd.files_get(request)
    farm = farm_of(request)
    recursive = truthy(request.query.get("recursive", "false"))
    infos = await farm.uploads.list(recursive=recursive)
    free, total = await farm.uploads.usage()
    files = _tree(request, infos, recursive)
    if "location" not in request.match_info:  # /api/files: every location, the card's files too
        files += octoprint_sd.sd_records(request, printer_of(request))
    return web.json_response({"files": files, "free": free, "total": total})


async def file_get(request: web.Request) -> web.Response:
    if _on_card(request):
        return await octoprint_sd.file_get(request)
    farm = farm_of(request)
    info = await farm.uploads.info(request.match_info["path"])
    if info.type == FileType.FOLDER:  # with its own entries, or its whole tree when recursive
        recursive = truthy(request.query.get("recursive", "false"))
        children = await farm.uploads.list(recursive=recursive, under=info.path)
        return web.json_response(file_record(request, info, _tree(request, children, recursive, info.path)))
    return web.json_response(file_record(request, info))


def _filename(part: BodyPartReader) -> str:
    """The name as the client sent it: aiohttp drops a leading '/' from a quoted filename, which
    would quietly turn an absolute name into a relative one instead of refusing it."""
    plain = _PLAIN_FILENAME.search(part.headers.get("Content-Disposition", ""))
    if plain is not None and "filename*" not in part.headers.get("Content-Disposition", ""):
        return re.sub(r"\\(.)", r"\1", plain.group(1))
    return part.filename or ""


async def _field(part: BodyPartReader) -> str:
    data = bytearray()
    async for chunk in chunks(part, 1024):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise FarmctlError(f"form field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes")
    return data.decode("utf-8", "replace")


def _joined(folder: str, name: str) -> str:
    folder = folder.strip("/")
    return f"{folder}/{name}" if folder else name


async def upload(request: web.Request) -> web.Response:
    """POST /api/files/local: multipart ``file`` with ``path``, ``select`` and ``print``; or ``foldername``."""
    if _on_card(request):
        return await octoprint_sd.upload(request)
    farm, entry = farm_of(request), printer_of(request)
    if request.content_type != "multipart/form-data":
        body = await command_body(request)
        if "foldername" in body:
            return await _new_folder(request, farm, _joined(str(body.get("path", "")), str(body["foldername"])))
        raise FarmctlError("send the file as multipart/form-data in a part named 'file'")
    fields: dict[str, str] = {}
    saved: FileInfo | None = None
    try:
        async for part in parts(request):
            if part.name == "file" and part.filename is not None:
                if saved is not None:
                    raise FarmctlError("only one file per upload")
                name = _filename(part)
                if name.startswith("/"):
                    raise FarmctlError("file name must be relative, not absolute")
                if not has_allowed_extension(name):  # OctoPrint's answer to a type it cannot store
                    allowed = ", ".join(sorted(ALLOWED_EXTENSIONS))
                    raise FarmctlError(f"could not upload {name!r}: not a G-code file (allowed: {allowed})", 415)
                target = _joined(fields.get("path", ""), name)
                file_ops.refuse_busy(farm, target)
                saved = await farm.uploads.save_stream(target, chunks(part))
            elif part.name:
                fields[part.name] = await _field(part)
    except FarmctlError:
        await forget(farm.uploads, saved)
        raise
    if saved is None:
        if "foldername" in fields:
            return await _new_folder(request, farm, _joined(fields.get("path", ""), fields["foldername"]))
        raise FarmctlError("no file in the upload (send it in a multipart part named 'file')")
    wanted = _joined(fields.get("path", ""), saved.name)
    if wanted != saved.path:  # 'path' came after the file in the form: put the file where it belongs
        file_ops.refuse_busy(farm, wanted)
        try:
            await farm.uploads.delete(wanted)
        except FarmctlError as exc:
            if exc.status != 404:
                raise
        saved = await farm.uploads.move(saved.path, wanted)
    await farm.file_stored(saved)
    want_print = truthy(fields.get("print", "false"))
    want_select = truthy(fields.get("select", "false")) or want_print
    ready = entry.printer.state == PrinterState.OPERATIONAL
    effective_select = want_select and ready
    effective_print = False
    if effective_select:
        entry.select(saved.path)
        if want_print:
            await control.print_selected(farm, entry)
            effective_print = True
    refs = _refs(request, saved)
    response = web.json_response({
        "files": {"local": {"name": saved.name, "display": saved.name, "path": saved.path, "origin": "local",
                            "refs": refs}},
        "done": True, "effectiveSelect": effective_select, "effectivePrint": effective_print,
    }, status=201)
    response.headers["Location"] = refs["resource"]
    return response


async def _new_folder(request: web.Request, farm: Farm, relative: str) -> web.Response:
    info = await farm.uploads.create_folder(relative)
    refs = _refs(request, info)
    response = web.json_response({"folder": {"name": info.name, "path": info.path, "origin": "local", "refs": refs},
                                  "done": True}, status=201)
    response.headers["Location"] = refs["resource"]
    return response


async def file_command(request: web.Request) -> web.Response:
    if _on_card(request):
        return await octoprint_sd.file_command(request)
    farm, entry = farm_of(request), printer_of(request)
    relative = request.match_info["path"]
    body = await command_body(request)
    command = command_of(body, ("select", "unselect", "copy", "move"))
    if command == "unselect":
        entry.select()
        return no_content()
    info = await farm.uploads.info(relative)
    if command == "select":
        if info.type != FileType.MACHINECODE:
            raise FarmctlError(f"{info.path} is a folder, not a file to print")
        if entry.printer.state not in (PrinterState.OPERATIONAL, PrinterState.OFFLINE, PrinterState.ERROR):
            raise FarmctlError("cannot select a file while the printer is printing", 409)
        entry.select(info.path)
        if truthy(body.get("print", False)):
            await control.print_selected(farm, entry)
        return no_content()
    destination = body.get("destination")
    if not isinstance(destination, str):
        raise FarmctlError(f"{command} needs a destination")
    target = await _destination(farm, destination, info.name)
    if command == "move":
        moved = await file_ops.move(farm, info, target)
    else:
        moved = await farm.uploads.copy(info.path, target)
        await farm.file_stored(moved)
    refs = _refs(request, moved)
    response = web.json_response({"name": moved.name, "path": moved.path, "origin": "local", "refs": refs},
                                 status=201)
    response.headers["Location"] = refs["resource"]
    return response


async def _destination(farm: Farm, destination: str, name: str) -> str:
    """OctoPrint's destination: an existing folder (the item keeps its name inside it) or a full new path."""
    if not destination.strip("/"):
        return name
    try:
        existing = await farm.uploads.info(destination)
    except FarmctlError as exc:
        if exc.status == 404:
            return destination
        raise
    if existing.type == FileType.FOLDER:
        return _joined(existing.path, name)
    raise FarmctlError(f"{existing.path} already exists", 409)


async def file_delete(request: web.Request) -> web.Response:
    if _on_card(request):
        return await octoprint_sd.file_delete(request)
    farm = farm_of(request)
    await file_ops.delete(farm, await farm.uploads.info(request.match_info["path"]))
    return no_content()


async def download(request: web.Request) -> web.StreamResponse:
    farm = farm_of(request)
    path = await farm.uploads.local_path(request.match_info["path"])
    return web.FileResponse(path, headers={"Content-Type": "text/plain; charset=utf-8",
                                           "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/files", files_get),
        web.get(prefix + "/api/files/{location}", files_get),
        web.post(prefix + "/api/files/{location}", upload),
        web.get(prefix + "/api/files/{location}/{path:.+}", file_get),
        web.post(prefix + "/api/files/{location}/{path:.+}", file_command),
        web.delete(prefix + "/api/files/{location}/{path:.+}", file_delete),
        web.get(prefix + "/downloads/files/local/{path:.+}", download),
    ])
