"""Reading a multipart upload so that a body cut off or malformed anywhere is a 400, never a 500.

aiohttp's reader raises ``ValueError`` (and, for a broken header block, its own parser errors)
wherever the body stops making sense: at the next part, or in the middle of one. Every upload
reads through :func:`parts` and :func:`chunks`, which say so as a FarmctlError; the files layer
then removes whatever it had begun to write.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from farmctl.errors import FarmctlError
from farmctl.files import FileInfo, UploadFolder

CHUNK = 256 * 1024
BROKEN_BODY = (ValueError, AssertionError, LookupError, HttpProcessingError)
"""What aiohttp raises for a body that does not parse as its Content-Type says."""
MALFORMED = "the multipart body is malformed or cut off"


async def parts(request: web.Request) -> AsyncIterator[BodyPartReader]:
    """The body's parts in order; a nested multipart part is refused."""
    try:
        reader = await request.multipart()
    except BROKEN_BODY:
        raise FarmctlError(f"{MALFORMED} (is the boundary parameter missing?)") from None
    while True:
        try:
            part = await reader.next()
        except BROKEN_BODY:
            raise FarmctlError(MALFORMED) from None
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            raise FarmctlError("nested multipart bodies are not supported")
        yield part


async def chunks(part: BodyPartReader, size: int = CHUNK) -> AsyncIterator[bytes]:
    """A part's bytes as they arrive."""
    while True:
        try:
            chunk = await part.read_chunk(size)
        except BROKEN_BODY:
            raise FarmctlError(MALFORMED) from None
        if not chunk:
            if not part.at_eof():  # the body ended before the part's closing boundary
                raise FarmctlError(MALFORMED)
            return
        yield chunk


async def forget(uploads: UploadFolder, saved: FileInfo | None) -> None:
    """Remove a file stored by an upload that failed afterwards (a later part was broken, or a second
    file came): the client was told the upload failed, so nothing of it may stay."""
    if saved is not None:
        with contextlib.suppress(FarmctlError):
            await uploads.delete(saved.path)
