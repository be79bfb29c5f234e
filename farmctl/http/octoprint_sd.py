"""OctoPrint's SD card surface, translated onto a printer's card: ``/api/files/sdcard`` (list,
upload, select and print, delete), the files of ``/api/files`` with ``origin = "sdcard"``, and
``/api/printer/sd`` (init, refresh, release). A firmware without SD support answers 409 saying so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from farmctl.errors import FarmctlError
from farmctl.farm import control
from farmctl.farm.farm import Farm, FarmPrinter
from farmctl.http.app import farm_of, printer_of
from farmctl.http.octoprint_common import base_url, command_body, command_of, no_content, truthy
from farmctl.printer import PrinterState
from farmctl.sd import CardState, SdFile

CHUNK = 64 * 1024


def sd_file_record(request: web.Request, file: SdFile) -> dict[str, Any]:
    resource = f"{base_url(request)}/api/files/sdcard/{file.name}"
    return {"name": file.name, "display": file.display, "path": file.name, "origin": "sdcard",
            "type": "machinecode", "typePath": ["machinecode", "gcode"], "size": file.size,
            "refs": {"resource": resource}}


def sd_records(request: web.Request, entry: FarmPrinter) -> list[dict[str, Any]]:
    """The card's files as /api/files lists them (none when the card is not ready)."""
    card = entry.printer.sd
    return [sd_file_record(request, f) for f in card.files] if card.ready else []


def _card_ready(entry: FarmPrinter) -> None:
    card = entry.printer.sd
    if card.state is CardState.UNSUPPORTED:
        raise FarmctlError("this printer's firmware has no SD card support", 409)
    if not card.ready:
        raise FarmctlError("the printer's SD card is not ready (none inserted, or not initialised)", 409)


def _named_file(request: web.Request, entry: FarmPrinter) -> SdFile:
    """The card's file the path names (by 8.3 or long name); 404 when the card has none."""
    file = entry.printer.sd.find(request.match_info["path"])
    if file is None:
        raise FarmctlError(f"{request.match_info['path']} is not on the printer's SD card", 404)
    return file


async def files_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    _card_ready(entry)
    return web.json_response({"files": sd_records(request, entry)})


async def file_get(request: web.Request) -> web.Response:
    entry = printer_of(request)
    _card_ready(entry)
    file = _named_file(request, entry)
    return web.json_response(sd_file_record(request, file))


async def _spool(part: BodyPartReader, farm: Farm) -> Path:
    """The uploaded file in a temporary file of the data folder (never in the uploads), size-checked."""
    folder = farm.data_dir / "tmp"
    folder.mkdir(exist_ok=True)
    handle = tempfile.NamedTemporaryFile("wb", dir=folder, suffix=".gcode", delete=False)  # noqa: SIM115
    path, size = Path(handle.name), 0
    try:
        with handle:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > farm.max_upload:
                    raise FarmctlError(f"the file is larger than the upload limit ({farm.max_upload} bytes)", 413)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def upload(request: web.Request) -> web.Response:
    """POST /api/files/sdcard: the file is written to the card with M28/M29 through the printer's stream."""
    farm, entry = farm_of(request), printer_of(request)
    _card_ready(entry)
    if request.content_type != "multipart/form-data":
        raise FarmctlError("send the file as multipart/form-data in a part named 'file'")
    reader = await request.multipart()
    spooled: tuple[Path, str] | None = None
    fields: dict[str, str] = {}
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise FarmctlError("nested multipart bodies are not supported")
            if part.name == "file" and part.filename:
                if spooled is not None:
                    raise FarmctlError("only one file per upload")
                name = part.filename.replace("\\", "/").rsplit("/", 1)[-1]
                if not name or not name.isprintable():
                    raise FarmctlError("the file needs a printable name")
                spooled = (await _spool(part, farm), name)
            elif part.name:
                fields[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")[:4096]
        if spooled is None:
            raise FarmctlError("no file in the upload (send it in a multipart part named 'file')")
        saved = await entry.printer.upload_sd(*spooled)
    finally:
        if spooled is not None:
            spooled[0].unlink(missing_ok=True)
    file = entry.printer.sd.find(saved) or SdFile(saved, 0)
    farm.notify()
    printing = False
    if truthy(fields.get("print", "false")):
        await control.print_sd_file(farm, entry, file.name)
        printing = True
    record = sd_file_record(request, file)
    response = web.json_response({"files": {"sdcard": record}, "done": True,
                                  "effectiveSelect": printing, "effectivePrint": printing}, status=201)
    response.headers["Location"] = record["refs"]["resource"]
    return response


async def file_command(request: web.Request) -> web.Response:
    farm, entry = farm_of(request), printer_of(request)
    _card_ready(entry)
    body = await command_body(request)
    command = command_of(body, ("select", "unselect"))
    if command == "unselect":
        entry.select()
        return no_content()
    file = _named_file(request, entry)
    if entry.printer.state != PrinterState.OPERATIONAL:
        raise FarmctlError("cannot select a file while the printer is busy", 409)
    entry.select(sd=file.name)
    if truthy(body.get("print", False)):
        await control.print_sd_file(farm, entry, file.name)
    return no_content()


async def file_delete(request: web.Request) -> web.Response:
    entry = printer_of(request)
    _card_ready(entry)
    file = _named_file(request, entry)
    if entry.printer.progress is not None and entry.printer.progress.sd and entry.printer.state != PrinterState.OPERATIONAL:
        raise FarmctlError("cannot delete a file from the card while the printer prints from it", 409)
    await entry.printer.sd.delete(file.name)
    if entry.selected_sd == file.name:
        entry.select()
    farm_of(request).notify()
    return no_content()


async def sd_get(request: web.Request) -> web.Response:
    return web.json_response({"ready": printer_of(request).printer.sd.ready})


async def sd_post(request: web.Request) -> web.Response:
    """init (mount and list), refresh (list again), release (unmount)."""
    entry = printer_of(request)
    printer = entry.printer
    command = command_of(await command_body(request), ("init", "refresh", "release"))
    if printer.state in (PrinterState.OFFLINE, PrinterState.ERROR):
        raise FarmctlError("the printer is not connected", 409)
    if command == "init":
        await control.init_card(entry)  # a copy waiting for the card looks again
    elif command == "refresh":
        await printer.sd_refresh()
    else:
        if printer.progress is not None and printer.progress.sd and printer.state != PrinterState.OPERATIONAL:
            raise FarmctlError("cannot release the card while the printer prints from it", 409)
        await printer.sd.release()
    farm_of(request).notify()
    return no_content()


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_routes([
        web.get(prefix + "/api/printer/sd", sd_get),
        web.post(prefix + "/api/printer/sd", sd_post),
    ])

