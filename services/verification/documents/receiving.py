"""Reading an upload from the request stream into memory, with the size cap enforced as it arrives.

Starlette's form parser spools file parts over 1 MB to a temporary file; a statement showing a
full card number must not touch the disk even there, so the body is parsed by the kit's bounded
in-memory reader (:mod:`mamori_common.multipart`). Nothing is kept if the body grows past the cap:
the stream is abandoned at once (413).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from mamori_common.multipart import (
    MultipartLimits,
    MultipartMalformed,
    MultipartTooLarge,
    is_multipart,
    read_multipart,
)
from mamori_common.problems import Problem

FIELD = "file"


@dataclass
class Upload:
    filename: str
    data: bytes
    client_type: str


def too_large(limit: int) -> Problem:
    return Problem(413, "file_too_large", f"The file is larger than {limit // (1024 * 1024)} MB.", max_bytes=limit)


async def read_upload(request: Request, limit: int) -> Upload:
    """The ``file`` part of a multipart body, read into memory (413 past ``limit`` bytes)."""
    if not is_multipart(request.headers.get("content-type", "")):
        raise Problem(415, "multipart_required", 'Send the file as multipart/form-data in the field "file".')
    try:
        body = await read_multipart(request, MultipartLimits(file_bytes=limit))
    except MultipartTooLarge as exc:
        raise too_large(limit) from exc
    except MultipartMalformed as exc:
        raise Problem(400, "malformed_multipart", "The multipart body is broken.") from exc
    for part in body.files:
        if part.name == FIELD:
            return Upload(filename=part.filename, data=part.data, client_type=part.content_type)
    raise Problem(422, "file_missing", 'Attach the document as a file in the field "file".')
