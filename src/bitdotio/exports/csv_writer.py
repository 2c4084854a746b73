"""CSV: Postgres's own ``COPY ... (FORMAT csv, HEADER)`` output, streamed to the file.

Spreadsheet safety (security.md §4.7): with ``escape_formulas`` (the default) a text cell that
starts with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading ``'``, so a spreadsheet shows
it as text instead of running it as a formula. Only text-like columns (strings, enums and
domains over them) are touched; numbers, dates and the rest are written as Postgres prints them.
"""

from __future__ import annotations

import threading
from typing import BinaryIO

import psycopg
from psycopg import sql

from bitdotio.exports.copy_out import copy_out
from bitdotio.exports.source import Column, Source

__all__ = ["write_csv"]

# ascii() of = + - @ TAB CR: cheaper in Postgres than a regular expression or left()
_TRIGGERS = sql.SQL("(61, 43, 45, 64, 9, 13)")
_TEXT_CATEGORIES = ("S", "E")


def _escaped(column: Column, ref: sql.Composable) -> sql.Composable:
    if column.category not in _TEXT_CATEGORIES:
        return ref
    return sql.SQL(
        "CASE WHEN pg_catalog.ascii({ref}::text) IN {triggers}"
        " THEN '''' || {ref}::text ELSE {ref}::text END"
    ).format(ref=ref, triggers=_TRIGGERS)


def write_csv(
    conn: psycopg.Connection,
    source: Source,
    out: BinaryIO,
    *,
    escape_formulas: bool = True,
    stop: threading.Event | None = None,
) -> int:
    select = source.select(_escaped if escape_formulas else lambda _column, ref: ref)
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(select)
    return copy_out(conn, statement.as_bytes(conn), out.write, stop=stop)
