"""A ``multipart/form-data`` body read into memory, bounded as it arrives: no temporary file, ever.

Starlette's form parser spools a file part over 1 MB to a temporary file; an upload that may
show a full card number must not touch the disk even there. This reads the request stream with
``python-multipart``'s streaming parser, keeps every part in memory, and stops reading the moment
a part, the number of parts or the whole body passes its limit. ``before_file`` runs when a file
part's headers are complete, before a byte of its content is kept: the portal checks the form's
CSRF token there (the token field comes first in its forms), so a forged upload is never read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request


class MultipartTooLarge(Exception):
    """A part, or the body, passed its limit (``limit`` bytes); reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class MultipartMalformed(Exception):
    """Not multipart/form-data, a broken body, or more parts than allowed."""


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Multipart:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[FilePart] = field(default_factory=list)


@dataclass(frozen=True)
class MultipartLimits:
    #: One file's content.
    file_bytes: int
    #: One ordinary field's value.
    field_bytes: int = 64 * 1024
    max_fields: int = 50
    max_files: int = 1
    #: Room for boundaries and part headers beside the parts themselves.
    framing_bytes: int = 64 * 1024


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    name: str = ""
    filename: str | None = None


class _Stop(Exception):
    """Raised inside a parser callback to stop at once; the real reason is kept beside it."""


def is_multipart(content_type: str) -> bool:
    kind, params = parse_options_header(content_type)
    return kind == b"multipart/form-data" and bool(params.get(b"boundary"))


async def read_multipart(
    request: Request,
    limits: MultipartLimits,
    before_file: Callable[[list[tuple[str, str]]], None] | None = None,
) -> Multipart:
    """The parts of ``request``'s body, in memory; :class:`MultipartTooLarge` past a limit."""
    _kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not is_multipart(request.headers.get("content-type", "")) or not boundary:
        raise MultipartMalformed("not multipart/form-data")
    body_limit = limits.file_bytes * limits.max_files + limits.field_bytes + limits.framing_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise MultipartTooLarge(limits.file_bytes)

    result = Multipart()
    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()
    stopped: list[BaseException] = []

    def stop(reason: BaseException) -> None:
        stopped.append(reason)
        raise _Stop()

    def on_part_begin() -> None:
        if len(parts) >= limits.max_fields + limits.max_files:
            stop(MultipartMalformed("too many parts"))
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])
        if len(header_name) > 1024:
            stop(MultipartMalformed("header too long"))

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])
        if len(header_value) > 4096:
            stop(MultipartMalformed("header too long"))

    def on_header_end() -> None:
        parts[-1].headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        part = parts[-1]
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", errors="replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", errors="replace")
            if sum(1 for other in parts if other.filename is not None) > limits.max_files:
                stop(MultipartMalformed("too many files"))
            if before_file is not None:
                try:
                    before_file(list(result.fields))
                except Exception as reason:  # the caller's refusal (CSRF): re-raised as it is
                    stop(reason)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part.size += end - start
        if part.size > (limits.file_bytes if part.filename is not None else limits.field_bytes):
            stop(MultipartTooLarge(limits.file_bytes))
        part.chunks.append(data[start:end])

    def on_part_end() -> None:
        part = parts[-1]
        data = b"".join(part.chunks)
        part.chunks.clear()
        if part.filename is None:
            result.fields.append((part.name, data.decode("utf-8", errors="replace")))
        else:
            content_type = part.headers.get(b"content-type", b"").decode("latin-1")
            result.files.append(FilePart(part.name, part.filename, content_type, data))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise MultipartTooLarge(limits.file_bytes)
            parser.write(chunk)
        parser.finalize()
    except _Stop:
        raise stopped[0] from None
    except MultipartTooLarge:
        raise
    except Exception as exc:  # python-multipart's own errors on a broken body
        if stopped:
            raise stopped[0] from None
        raise MultipartMalformed("the multipart body is broken") from exc
    return result
