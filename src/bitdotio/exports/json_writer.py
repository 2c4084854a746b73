"""JSON: one array of objects, one object per row, written as the rows arrive.

Postgres renders each row (``row_to_json``), so values look the way Postgres's JSON functions
print them: numbers (numeric with all its digits) as JSON numbers, NaN and infinities as
strings, booleans, timestamps as ISO 8601 strings in UTC, bytea as ``"\\\\x…"`` hex strings,
arrays as JSON arrays, json/jsonb embedded as JSON, everything else as its text.
"""

from __future__ import annotations

import threading
from typing import BinaryIO

import psycopg
from psycopg import sql

from bitdotio.exports.copy_out import copy_out
from bitdotio.exports.source import Source

__all__ = ["write_json"]


def write_json(
    conn: psycopg.Connection,
    source: Source,
    out: BinaryIO,
    *,
    stop: threading.Event | None = None,
) -> int:
    # COPY's text format doubles each backslash and leaves every other byte of JSON text alone
    # (JSON text has no raw control characters), and ends each row with a newline.
    first = True

    def write(chunk: bytearray) -> None:
        nonlocal first
        out.write(b"[\n" if first else b",\n")
        first = False
        out.write(chunk[:-1].replace(b"\\\\", b"\\").replace(b"\n", b",\n"))

    statement = sql.SQL("COPY ({}) TO STDOUT").format(source.as_rows_of_json())
    rows = copy_out(conn, statement.as_bytes(conn), write, stop=stop)
    out.write(b"[]\n" if first else b"\n]\n")
    return rows
