"""COPY (FORMAT csv) payload: quoting rules and ~1 MiB chunks that end on row boundaries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

CHUNK_BYTES = 1024 * 1024

# A field is quoted when it is empty (an unquoted empty field is NULL), holds a delimiter, quote
# or line break, or holds a backslash: ``\.`` alone on a line would end COPY's input otherwise.
_NEEDS_QUOTES = frozenset(',"\r\n\\')


def csv_field(value: str | None) -> str:
    if value is None:
        return ""
    if value == "" or not _NEEDS_QUOTES.isdisjoint(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_row(values: Sequence[str | None]) -> str:
    return ",".join(map(csv_field, values)) + "\n"


def chunked(rows: Iterable[str], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Group encoded rows into UTF-8 chunks of about ``chunk_bytes``."""
    parts: list[bytes] = []
    size = 0
    for row in rows:
        data = row.encode()
        parts.append(data)
        size += len(data)
        if size >= chunk_bytes:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)
