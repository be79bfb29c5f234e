"""The uploads as the dashboard sees them: ``/api/farm/files``.

- ``GET /api/farm/files``: the uploads' G-code files, for "add to queue" and "print on...".
- ``POST /api/farm/files``: a multipart upload (part ``file``) into the uploads folder; it tells
  push clients ``FileAdded``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmctl.errors import FarmctlError
from farmctl.files.store import FileInfo, FileType
from farmctl.http.app import farm_of
from farmctl.http.multipart import chunks, forget, parts


def upload_record(info: FileInfo) -> dict[str, Any]:
    estimate = info.analysis.estimated_print_time if info.analysis is not None else None
    return {"path": info.path, "name": info.name, "size": info.size, "date": info.date,
            "estimatedPrintTime": estimate}


async def files(request: web.Request) -> web.Response:
    listed = await farm_of(request).uploads.list(recursive=True)
    return web.json_response({"files": [upload_record(f) for f in listed if f.type == FileType.MACHINECODE]})


async def upload(request: web.Request) -> web.Response:
    farm = farm_of(request)
    if request.content_type != "multipart/form-data":
        raise FarmctlError("send the file as multipart/form-data in a part named 'file'")
    saved: FileInfo | None = None
    try:
        async for part in parts(request):
            if part.name == "file" and part.filename:
                if saved is not None:
                    raise FarmctlError("one file per upload")
                saved = await farm.uploads.save_stream(part.filename, chunks(part))
    except FarmctlError:
        await forget(farm.uploads, saved)
        raise
    if saved is None:
        raise FarmctlError("no file in the upload (send it in a multipart part named 'file')")
    farm.files_changed("FileAdded", saved.path)
    return web.json_response(upload_record(saved), status=201)


ROUTES = (
    ("GET", "/api/farm/files", files),
    ("POST", "/api/farm/files", upload),
)
