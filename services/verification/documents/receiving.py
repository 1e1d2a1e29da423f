"""Reading an upload from the request stream into memory, with the size cap enforced as it arrives.

Starlette's form parser spools file parts over 1 MB to a temporary file; a statement showing a
full card number must not touch the disk even there, so the multipart body is parsed here with
``python-multipart``'s streaming parser into a bounded buffer. Nothing is kept if the body grows
past the cap: the stream is abandoned at once (413).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from mamori_common.problems import Problem

FIELD = "file"
#: Room for the multipart framing and the other (small) fields beside the file.
_FRAMING_ALLOWANCE = 64 * 1024


@dataclass
class Upload:
    filename: str
    data: bytes
    client_type: str


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


def too_large(limit: int) -> Problem:
    return Problem(413, "file_too_large", f"The file is larger than {limit // (1024 * 1024)} MB.", max_bytes=limit)


async def read_upload(request: Request, limit: int) -> Upload:
    """The ``file`` part of a multipart body, read into memory (413 past ``limit`` bytes)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Problem(415, "multipart_required", 'Send the file as multipart/form-data in the field "file".')
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _FRAMING_ALLOWANCE:
        raise too_large(limit)

    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1].headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part.size += end - start
        if part.size > limit:
            raise too_large(limit)
        part.chunks.append(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + _FRAMING_ALLOWANCE:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except Problem:
        raise
    except Exception as exc:  # python-multipart raises its own errors on a broken body
        raise Problem(400, "malformed_multipart", "The multipart body is broken.") from exc
    return _file_part(parts)


def _file_part(parts: list[_Part]) -> Upload:
    for part in parts:
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        if options.get(b"name") == FIELD.encode() and b"filename" in options:
            filename = options[b"filename"].decode("utf-8", errors="replace")
            client_type = part.headers.get(b"content-type", b"").decode("latin-1")
            return Upload(filename=filename, data=b"".join(part.chunks), client_type=client_type)
    raise Problem(422, "file_missing", 'Attach the document as a file in the field "file".')
