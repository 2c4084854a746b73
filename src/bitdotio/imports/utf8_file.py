"""A delimited text file as UTF-8 on disk, cut into runs of whole records.

Encodings (docs/reference/imports.md, "CSV"): UTF-8 with or without a byte-order mark is read
in place. UTF-16 with a byte-order mark, and any file that is not valid UTF-8 (read as
Windows-1252), are first rewritten as UTF-8 into a scratch directory that is removed when the
last reference to the ``Utf8File`` goes.
"""

from __future__ import annotations

import codecs
import io
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import polars as pl

from bitdotio.imports.source import ImportFailure, ImportLimits

__all__ = ["NotUtf8", "Utf8File", "open_utf8", "record_end"]

HEAD_BYTES = 64 * 1024
READ_BYTES = 8 * 1024 * 1024
_MIN_RECORD_CAP_BYTES = 64 * 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class NotUtf8(Exception):
    """Raised by a reader that met invalid UTF-8 past the head: read again as Windows-1252."""


class Utf8File:
    """A UTF-8 file and where its text starts (past any byte-order mark)."""

    def __init__(self, path: Path, *, start: int, encoding: str, scratch: Path | None) -> None:
        self.path = path
        self.start = start
        self.encoding = encoding  # what the upload was: "utf-8", "utf-16", "windows-1252"
        if scratch is not None:
            weakref.finalize(self, shutil.rmtree, scratch, ignore_errors=True)

    @property
    def transcoded(self) -> bool:
        return self.encoding != "utf-8"

    def head(self) -> bytes:
        with self.path.open("rb") as file:
            file.seek(self.start)
            return file.read(HEAD_BYTES)

    def records_from(
        self, offset: int, quote: bytes | None, limits: ImportLimits, size: int = READ_BYTES
    ) -> Iterator[bytes]:
        """Runs of about ``size`` bytes from ``offset`` (a record boundary), each whole records."""
        cap = max(_MIN_RECORD_CAP_BYTES, 2 * limits.max_field_bytes)
        with self.path.open("rb") as file:
            file.seek(offset)
            pending = b""
            while data := file.read(size):
                pending += data
                end = record_end(pending, quote)
                if end:
                    yield pending[:end]
                    pending = pending[end:]
                elif len(pending) > cap:
                    raise ImportFailure(
                        "TooLarge",
                        f"A row is longer than {cap} bytes; is a quote left open?",
                        row_bytes=len(pending),
                    )
            if pending.strip():
                yield pending

    def scan(
        self, delimiter: str, quote: str | None, schema: dict[str, pl.DataType]
    ) -> pl.LazyFrame:
        """Every record after the first as String columns (short rows padded with nulls)."""
        return pl.scan_csv(
            self.path,
            has_header=False,
            skip_rows=1,
            separator=delimiter,
            quote_char=quote,
            schema=schema,
            missing_columns="insert",
            raise_if_empty=False,
        )

    def open_text(self, offset: int) -> IO[str]:
        file = self.path.open("rb")
        file.seek(offset)
        return io.TextIOWrapper(file, encoding="utf-8", errors="replace", newline="")


def open_utf8(path: Path, limits: ImportLimits, *, force_cp1252: bool = False) -> Utf8File:
    """``path`` as UTF-8, rewritten into the scratch directory when it is in another encoding."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    if head.startswith(_UTF16_BOMS):
        return _transcode(path, "utf-16", limits)
    if force_cp1252 or not _is_utf8_prefix(head):
        return _transcode(path, "windows-1252", limits)
    start = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    return Utf8File(path, start=start, encoding="utf-8", scratch=None)


def _is_utf8_prefix(data: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _transcode(path: Path, source_encoding: str, limits: ImportLimits) -> Utf8File:
    scratch = Path(tempfile.mkdtemp(prefix="bitio-text-", dir=limits.scratch_dir))
    target = scratch / "utf8.csv"
    codec = "cp1252" if source_encoding == "windows-1252" else source_encoding
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    try:
        with path.open("rb") as source, target.open("wb") as out:
            while data := source.read(READ_BYTES):
                try:
                    out.write(decoder.decode(data).encode())
                except UnicodeDecodeError as error:
                    raise _encoding_failure(source_encoding, offset + error.start) from error
                offset += len(data)
            out.write(decoder.decode(b"", final=True).encode())
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Utf8File(target, start=0, encoding=source_encoding, scratch=scratch)


def _encoding_failure(source_encoding: str, byte_offset: int) -> ImportFailure:
    return ImportFailure(
        "EncodingError",
        f"The file is neither UTF-8 nor {source_encoding}: save it as UTF-8 and import it again.",
        byte_offset=byte_offset,
    )


def record_end(data: bytes, quote: bytes | None) -> int:
    """The offset just past the last complete record in ``data``, or 0 if there is none.

    ``data`` starts on a record boundary, so a newline ends a record exactly when an even
    number of quote characters comes before it (RFC 4180 doubles quotes inside fields).
    """
    newline = data.rfind(b"\n")
    if not quote or quote not in data:  # membership is a memchr: far cheaper than count
        return newline + 1
    quotes_after = data.count(quote, newline)
    total = quotes_after + data.count(quote, 0, newline)
    while newline != -1:
        if (total - quotes_after) % 2 == 0:
            return newline + 1
        previous = data.rfind(b"\n", 0, newline)
        quotes_after += data.count(quote, previous + 1, newline)
        newline = previous
    return 0
