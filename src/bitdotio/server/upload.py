"""An import's form: ``multipart/form-data`` streamed straight into the file store, or
``application/x-www-form-urlencoded`` (contract §2.3, §3.3, §3.4).

The file part never sits in memory or in a temporary file: it is written to its final place in
the store as it arrives, counted against ``import-max-upload-bytes`` (413 past it), and removed
if the request fails or ends early (2.2.1 can die mid-upload, contract §5.3). Text fields are
small and few.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from bitdotio.errors import BitError
from bitdotio.storage import FileStore, new_key

__all__ = ["ImportForm", "read_form"]

_MAX_FIELD_BYTES = 64 * 1024
_MAX_FIELDS = 16


@dataclass
class ImportForm:
    fields: dict[str, str] = field(default_factory=dict)
    upload_key: str | None = None  # the file part, in the store
    upload_bytes: int = 0


async def read_form(request: Request, store: FileStore, *, max_upload_bytes: int) -> ImportForm:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"multipart/form-data" and params.get(b"boundary"):
        return await _multipart(request, store, params[b"boundary"], max_upload_bytes)
    if content_type in (b"application/x-www-form-urlencoded", b""):
        body = await _small_body(request)
        return ImportForm(fields=dict(parse_qsl(body.decode("utf-8", "replace"))))
    raise BitError(
        "BIT403", "Send the import as multipart/form-data or application/x-www-form-urlencoded"
    )


async def _small_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FIELDS * _MAX_FIELD_BYTES:
            raise BitError("BIT110")
    return bytes(body)


class _Parts:
    """python-multipart callbacks: collect text fields, stream the ``file`` part."""

    def __init__(self, store: FileStore, max_upload_bytes: int, stack: contextlib.ExitStack):
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.stack = stack
        self.form = ImportForm()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._value = bytearray()
        self._file: BinaryIO | None = None
        self.finished = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self._disposition = b""
        self._name = ""
        self._value = bytearray()
        self._file = None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file":
            if self.form.upload_key is not None:
                raise BitError("BIT403", "Send one file per import")
            self.form.upload_key = new_key("uploads")
            self._file = self.stack.enter_context(self.store.writer(self.form.upload_key))
        elif len(self.form.fields) >= _MAX_FIELDS:
            raise BitError("BIT403", "Too many form fields")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self.form.upload_bytes += end - start
            if self.form.upload_bytes > self.max_upload_bytes:
                raise BitError(
                    "BIT402",
                    f"The file is larger than the upload limit of {self.max_upload_bytes} bytes",
                )
            self._file.write(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > _MAX_FIELD_BYTES:
                raise BitError("BIT403", f"The form field {self._name!r} is too long")

    def part_end(self) -> None:
        if self._file is None:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")

    def end(self) -> None:
        self.finished = True


async def _multipart(
    request: Request, store: FileStore, boundary: bytes, max_upload_bytes: int
) -> ImportForm:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_upload_bytes + 64 * 1024:
        raise BitError(
            "BIT402", f"The file is larger than the upload limit of {max_upload_bytes} bytes"
        )
    with contextlib.ExitStack() as stack:
        parts = _Parts(store, max_upload_bytes, stack)
        parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                parser.write(chunk)
        except ClientDisconnect:
            raise BitError("BIT404") from None
        if not parts.finished:
            raise BitError("BIT404")
    return parts.form  # the stack has closed the file part: it is complete in the store
