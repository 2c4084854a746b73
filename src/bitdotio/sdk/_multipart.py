"""A streamed ``multipart/form-data`` body for import uploads (contract §3.3).

2.2.1 used requests-toolbelt without declaring it (contract §5.6 item 1). This body does the
same job on the standard library: fields first, then the file, read in blocks so that uploads
of any size never sit in memory.
"""

from __future__ import annotations

import io
import os
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO

__all__ = ["MultipartBody"]

_BLOCK_SIZE_BYTES = 64 * 1024


def _quote_param(value: str) -> str:
    # The HTML5 form-data escaping that requests-toolbelt applied to names and filenames.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _remaining_size(file: IO[bytes]) -> int | None:
    """Bytes left to read, or None for an unseekable stream (sent chunked instead)."""
    try:
        position = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


class MultipartBody:
    """Fields, then one file part named ``file_field`` with ``filename`` and no Content-Type.

    ``requests`` streams any object with ``__iter__``; the ``len`` attribute (None when the
    file cannot seek) gives it the Content-Length that 2.2.1 always sent.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, str]],
        file_field: str,
        filename: str,
        file: IO[bytes],
    ) -> None:
        # 2.2.1 failed half-way through the upload on a text-mode file; fail before sending.
        if isinstance(file.read(0), str):
            raise TypeError("a bytes-like object is required, not 'str'")
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_param(name)}"'
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_param(file_field)}";'
            f' filename="{_quote_param(filename)}"\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        file_size = _remaining_size(file)
        self.len = None if file_size is None else len(head) + file_size + len(tail)
        self._segments: deque[IO[bytes]] = deque([io.BytesIO(head), file, io.BytesIO(tail)])

    def read(self, size: int = -1) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while self._segments and (size < 0 or remaining > 0):
            chunk = self._segments[0].read(remaining if size >= 0 else -1)
            if not chunk:
                self._segments.popleft()
                continue
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(_BLOCK_SIZE_BYTES):
            yield chunk
