"""The SQLite reader's subprocess: reads a hostile file under rlimits, writes schema and payload.

Run as ``python -m bitdotio.imports._sqlite_child FILE OUT_DIR LIMITS_JSON`` (see ``_child``).
It caps its own address space and CPU time before it opens the file (security.md §4.5), then
writes one COPY payload file per table into OUT_DIR and the schema as ``result.json`` (see
``_sqlite_schema.describe``), or ``error.json`` and exits 3.
"""

from __future__ import annotations

import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bitdotio.imports import _child
from bitdotio.imports import _sqlite_schema as schema
from bitdotio.imports._payload import chunked, csv_row
from bitdotio.imports._sqlite_types import (
    CONVERTERS,
    UNTYPED,
    Misfit,
    SqliteValue,
    pg_type_for_classes,
)
from bitdotio.imports.source import ImportFailure

_FETCH_ROWS = 1000


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8")  # strict: a UnicodeDecodeError fails the import


def open_hardened(path: Path, max_field_bytes: int, deadline: float) -> sqlite3.Connection:
    """A read-only connection that no schema trick, huge value or endless query gets past."""
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_field_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
    for pragma in ("trusted_schema = OFF", "cell_size_check = ON", "mmap_size = 0"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("PRAGMA query_only = ON")
    conn.text_factory = _decode_text
    return conn


def _rows(conn: sqlite3.Connection, table: schema.TableInfo) -> Iterator[tuple[Any, ...]]:
    names = ", ".join(schema.quote(column.name) for column in table.columns)
    cursor = conn.execute(f"SELECT {names} FROM {schema.quote(table.name)}")
    while batch := cursor.fetchmany(_FETCH_ROWS):
        yield from batch


def _settle_types(conn: sqlite3.Connection, table: schema.TableInfo) -> None:
    """First pass: a column whose values do not all fit its mapped type becomes text."""
    classes: list[set[type]] = [set() for _ in table.columns]
    for row_number, row in enumerate(_rows(conn, table), start=1):
        for position, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            if value is None:
                column.has_nulls = True
                continue
            if isinstance(value, str) and "\x00" in value:
                raise ImportFailure(
                    "InvalidValue",
                    f"Table {table.name!r}, column {column.name!r} holds text with a NUL "
                    "character, which Postgres text cannot store.",
                    table=table.name,
                    column=column.name,
                    row=row_number,
                )
            if column.pg_type == UNTYPED:
                classes[position].add(type(value))
            elif column.pg_type != "text":
                try:
                    CONVERTERS[column.pg_type](value)
                except Misfit:
                    column.pg_type = "text"
    for column, found in zip(table.columns, classes, strict=True):
        if column.pg_type == UNTYPED:
            column.pg_type = pg_type_for_classes(found)


def _payload_rows(conn: sqlite3.Connection, table: schema.TableInfo) -> Iterator[str]:
    converters: list[Callable[[SqliteValue], str]] = [
        CONVERTERS[column.pg_type] for column in table.columns
    ]
    for row in _rows(conn, table):
        table.row_count += 1
        yield csv_row(
            [
                None if value is None else convert(value)
                for convert, value in zip(converters, row, strict=True)
            ]
        )


def _write_payload(conn: sqlite3.Connection, table: schema.TableInfo, out: Path) -> None:
    with out.open("wb") as file:
        for chunk in chunked(_payload_rows(conn, table)):
            file.write(chunk)
            table.chunks.append(len(chunk))


def read(path: Path, out_dir: Path, limits: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + limits["timeout_s"]
    conn = open_hardened(path, limits["max_field_bytes"], deadline)
    try:
        tables, skipped = schema.read_tables(conn, limits)
        for number, table in enumerate(tables):
            table.file = f"table_{number}.csv"
            try:
                _settle_types(conn, table)
                _write_payload(conn, table, out_dir / table.file)
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                raise _failure_for(exc, table=table.name) from None
        skipped += schema.read_constraints(conn, tables)
    finally:
        conn.close()
    return schema.describe(tables, skipped)


def _failure_for(exc: BaseException, **details: Any) -> ImportFailure:
    if isinstance(exc, ImportFailure):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        message = "The SQLite file holds text that is not UTF-8."
        return ImportFailure("EncodingError", message, **details)
    if isinstance(exc, MemoryError):
        message = "Reading the SQLite file needs too much memory."
        return ImportFailure("TooLarge", message, **details)
    text = str(exc)
    if "interrupted" in text:
        return ImportFailure("TooLarge", "Reading the SQLite file took too long.", **details)
    if "too big" in text:
        message = "The SQLite file holds a value larger than allowed."
        return ImportFailure("TooLarge", message, **details)
    return ImportFailure("CorruptFile", f"The SQLite file cannot be read: {text}.", **details)


def _reported(exc: Exception) -> ImportFailure | None:
    if isinstance(exc, ImportFailure | sqlite3.Error | UnicodeDecodeError | MemoryError):
        return _failure_for(exc)
    return None


def main(argv: list[str]) -> int:
    return _child.main(argv, read, _reported)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
