"""The dashboard's files: folders, streamed uploads, thumbnails, move, delete, download, queue, print now.

- ``GET  /api/farm/files?folder=F&recursive=1``: the folder's entries (or every file beneath it),
  each with its analysis and thumbnails, and the disk's free and total bytes.
- ``POST /api/farm/files?folder=F``: a multipart upload (part ``file``), streamed to disk as it
  arrives, so files of hundreds of MB never sit in memory; ``FileAdded`` goes to every client.
- ``GET  /api/farm/files/thumbnail/<n>?path=P``: thumbnail ``n`` from the cache made at upload.
- ``GET  /api/farm/files/download?path=P``: the G-code itself.
- ``POST /api/farm/files/folder`` ``{"path"}``, ``/delete`` ``{"path"}``, and ``/move`` ``{"path", "to"}``
  (a new full path: rename) or ``{"path", "folder"}`` (into that folder, keeping the name).
- ``POST /api/farm/files/queue`` ``{"path", "count"?, "name"?, "queue"?, "draft"?}``: a new job of
  one set of the file.
- ``POST /api/farm/files/print`` ``{"path", "printers": [...]}``: print now on each ready printer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.farm import file_ops
from farmctl.files import FileInfo, FileType
from farmctl.http import cp_json
from farmctl.http.farm_api import remote
from farmctl.http.app import farm_of
from farmctl.http.multipart import chunks, forget, parts
from farmctl.http.octoprint_common import command_body
from farmctl.queue.validate import as_bool, as_int, as_str
from farmctl.store import LOCAL_QUEUE


def file_record(info: FileInfo) -> dict[str, Any]:
    """One entry as the page shows it; a thumbnail's ``url`` changes with the file's contents."""
    analysis = info.analysis
    record: dict[str, Any] = {
        "name": info.name, "path": info.path, "type": info.type.value, "size": info.size, "date": info.date,
        "hash": info.hash,
    }
    if info.type == FileType.MACHINECODE:
        record["analysis"] = None if analysis is None else {
            "estimatedPrintTime": analysis.estimated_print_time, "timeSource": analysis.time_source.value,
            "filamentMm": list(analysis.filament_mm), "layers": analysis.layers,
            **{k: v for k, v in analysis.to_octoprint().items() if k == "dimensions"},
        }
        record["thumbnails"] = [
            {**ref.to_dict(), "url": f"/api/farm/files/thumbnail/{n}?path={quote(info.path)}&v={info.hash}"}
            for n, ref in enumerate(info.thumbnails)]
    return record


async def listing(request: web.Request) -> web.Response:
    farm = farm_of(request)
    folder = request.query.get("folder", "").strip("/")
    recursive = as_bool(request.query.get("recursive", "false"), "recursive")
    entries = await farm.uploads.list(recursive=recursive, under=folder)
    if recursive:
        entries = [info for info in entries if info.type == FileType.MACHINECODE]
    free, total = await farm.uploads.usage()
    return web.json_response({"folder": folder, "entries": [file_record(info) for info in entries],
                              "free": free, "total": total})


async def upload(request: web.Request) -> web.Response:
    farm = farm_of(request)
    if request.content_type != "multipart/form-data":
        raise FarmctlError("send the file as multipart/form-data in a part named 'file'")
    folder = request.query.get("folder", "").strip("/")
    saved: FileInfo | None = None
    try:
        async for part in parts(request):
            if part.name == "file" and part.filename:
                if saved is not None:
                    raise FarmctlError("one file per upload")
                name = f"{folder}/{part.filename}" if folder else part.filename
                file_ops.refuse_busy(farm, name)
                saved = await farm.uploads.save_stream(name, chunks(part))
    except FarmctlError:
        await forget(farm.uploads, saved)
        raise
    if saved is None:
        raise FarmctlError("no file in the upload (send it in a multipart part named 'file')")
    await farm.file_stored(saved)
    return web.json_response(file_record(saved), status=201)


def _path(body: dict[str, Any], key: str = "path") -> str:
    return as_str(body.get(key), key).strip("/")


async def thumbnail(request: web.Request) -> web.FileResponse:
    number = as_int(request.match_info["id"], "thumbnail number", minimum=0)
    image, image_format = await farm_of(request).uploads.thumbnail(request.query.get("path", ""), number)
    # The URL carries the file's hash, so a cached image is right for as long as the URL is.
    return web.FileResponse(image, headers={"Content-Type": image_format.media_type,
                                            "Cache-Control": "private, max-age=86400"})


async def download(request: web.Request) -> web.FileResponse:
    path = await farm_of(request).uploads.local_path(request.query.get("path", ""))
    return web.FileResponse(path, headers={"Content-Type": "text/plain; charset=utf-8",
                                           "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}"})


async def new_folder(request: web.Request) -> web.Response:
    farm = farm_of(request)
    made = await farm.uploads.create_folder(_path(await command_body(request)))
    farm.files_changed("FileAdded", made.path)
    return web.json_response(file_record(made), status=201)


async def move(request: web.Request) -> web.Response:
    farm = farm_of(request)
    body = await command_body(request)
    info = await farm.uploads.info(_path(body))
    if "folder" in body:  # into that folder (the top one when ""), keeping the name
        folder = as_str(body["folder"], "folder", allow_empty=True).strip("/")
        target = f"{folder}/{info.name}" if folder else info.name
    else:
        target = _path(body, "to")
    moved = await file_ops.move(farm, info, target)
    return web.json_response(file_record(moved))


async def delete(request: web.Request) -> web.Response:
    farm = farm_of(request)
    await file_ops.delete(farm, await farm.uploads.info(_path(await command_body(request))))
    return web.json_response({"deleted": True})


async def add_to_queue(request: web.Request) -> web.Response:
    """A job of one set: ``count`` copies of the file, ready to print unless ``draft``."""
    farm = farm_of(request)
    body = await command_body(request)
    info = await farm.uploads.info(_path(body))
    if info.type != FileType.MACHINECODE:
        raise FarmctlError(f"{info.path} is a folder; queue a file")
    count = as_int(body.get("count", 1), "count", minimum=1)
    added = await farm.model.jobs.add_set({"path": info.path, "count": count}, job_name=body.get("name"),
                                     job_draft=as_bool(body.get("draft", False), "draft"),
                                     queue=str(body.get("queue") or LOCAL_QUEUE))
    return web.json_response(cp_json.added_set_json(added, frozenset()), status=201)


async def print_now(request: web.Request) -> web.Response:
    farm = farm_of(request)
    body = await command_body(request)
    printers = body.get("printers")
    if not isinstance(printers, list) or not all(isinstance(name, str) for name in printers):
        raise FarmctlError("printers must be a list of printer names")
    path = _path(body)
    elsewhere = [name for name in dict.fromkeys(printers) if remote.is_remote(farm, request, name)]
    here = [name for name in printers if name not in elsewhere]
    outcomes = [(s.printer, s.error) for s in await file_ops.print_now(farm, path, here)] if here or not elsewhere else []
    if elsewhere:  # another node's printer: that node prints it (fetching the file from this one, by its hash)
        outcomes += [(r.printer, r.error) for r in
                     await remote.bulk_elsewhere(farm, request, elsewhere, {"action": "print", "path": path})]
    return web.json_response({"started": [name for name, error in outcomes if error is None],
                              "refused": [{"printer": name, "error": error} for name, error in outcomes if error]})


ROUTES = (
    ("GET", "/api/farm/files", listing),
    ("POST", "/api/farm/files", upload),
    ("GET", "/api/farm/files/thumbnail/{id}", thumbnail),
    ("GET", "/api/farm/files/download", download),
    ("POST", "/api/farm/files/folder", new_folder),
    ("POST", "/api/farm/files/move", move),
    ("POST", "/api/farm/files/delete", delete),
    ("POST", "/api/farm/files/queue", add_to_queue),
    ("POST", "/api/farm/files/print", print_now),
)
