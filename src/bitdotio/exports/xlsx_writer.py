"""XLSX (the API's ``xls``): one sheet, a header row, then the rows, in openpyxl's write-only
(constant-memory) mode.

Cells: integers and floats are numbers, except integers beyond ±2^53 and numerics with more
than 15 significant digits, which Excel cannot hold exactly and are written as text;
booleans are booleans; dates, times and timestamps are Excel dates (timestamptz in UTC, since
Excel has no time zones); NaN and infinities, and every other type, are text in Postgres's own
format. Every text cell is written as a string, never as a formula (security.md §4.7).
Excel's limits are errors, not truncation: 1,048,576 rows (header included), 16,384 columns
and 32,767 characters per cell.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import threading
import zipfile
from datetime import datetime
from typing import Any, BinaryIO

import psycopg
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter
from psycopg import sql

from bitdotio.exports.formats import ExportFailure
from bitdotio.exports.source import Column, Source

__all__ = ["MAX_ROWS", "write_xlsx"]

MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767
_FETCH_ROWS = 2_000
_EXACT_INT = 2**53
_TYPED = {
    "int2", "int4", "int8", "float4", "float8", "numeric", "bool",
    "date", "time", "timestamp", "timestamptz",
}  # fmt: skip


def _expression(column: Column, ref: sql.Composable) -> sql.Composable:
    return ref if column.type_name in _TYPED else sql.SQL("{}::text").format(ref)


def write_xlsx(
    conn: psycopg.Connection,
    source: Source,
    out: BinaryIO,
    *,
    stop: threading.Event | None = None,
) -> int:
    if len(source.columns) > MAX_COLUMNS:
        raise ExportFailure(
            "ExcelLimitExceeded",
            f"Excel sheets hold at most {MAX_COLUMNS} columns; this export has "
            f"{len(source.columns)}. Export as CSV or Parquet instead.",
        )
    workbook = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = workbook.create_sheet("export")
    try:
        rows = _write_rows(conn, source, sheet, stop)
        _save(workbook, out)
    except BaseException:
        _discard(sheet)
        raise
    return rows


def _save(workbook: Workbook, out: BinaryIO) -> None:
    """``workbook.save``, but a failed write (a full disk) also closes the ZIP archive, which
    openpyxl would otherwise leave to the garbage collector to fail on again."""
    archive = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    try:
        ExcelWriter(workbook, archive).save()
    except BaseException:
        archive._writing = False  # type: ignore[attr-defined]  # an entry was cut short
        with contextlib.suppress(Exception):
            archive.close()
        raise


def _write_rows(
    conn: psycopg.Connection,
    source: Source,
    sheet: WriteOnlyWorksheet,
    stop: threading.Event | None,
) -> int:
    sheet.append([_text(sheet, c.name, 0, c.name) for c in source.columns])
    rows = 0
    names = [c.name for c in source.columns]
    with conn.cursor(name="bitio_export", binary=True) as cursor:
        cursor.itersize = _FETCH_ROWS
        cursor.execute(source.select(_expression))
        while batch := cursor.fetchmany(_FETCH_ROWS):
            if rows + len(batch) > MAX_ROWS - 1:
                raise ExportFailure(
                    "ExcelLimitExceeded",
                    f"Excel sheets hold at most {MAX_ROWS - 1} rows under the header; this "
                    "export has more. Export as CSV or Parquet, or select fewer rows.",
                )
            for record in batch:
                rows += 1
                sheet.append([_cell(sheet, v, rows, n) for v, n in zip(record, names, strict=True)])
            if stop is not None and stop.is_set():
                raise ExportFailure("Interrupted", "The worker stopped during the export")
    return rows


def _discard(sheet: WriteOnlyWorksheet) -> None:
    """Close the half-written sheet and remove the temporary file openpyxl streams it to."""
    if sheet._rows is not None:
        with contextlib.suppress(Exception):
            sheet._rows.close()
    if sheet._writer is not None:
        with contextlib.suppress(Exception):
            sheet._writer.close()
        sheet._writer.cleanup()


def _cell(sheet: WriteOnlyWorksheet, value: Any, row: int, column: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        exact = -_EXACT_INT <= value <= _EXACT_INT
        return value if exact else _text(sheet, str(value), row, column)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return _text(sheet, text, row, column)
    if isinstance(value, decimal.Decimal):
        if value.is_finite() and len(value.as_tuple().digits) <= 15:
            return value
        return _text(sheet, format(value, "f") if value.is_finite() else str(value), row, column)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # the session's TimeZone is UTC
    if isinstance(value, str):
        return _text(sheet, value, row, column)
    return value  # date, time, naive datetime


def _text(sheet: WriteOnlyWorksheet, value: str, row: int, column: str) -> WriteOnlyCell:
    if len(value) > MAX_CELL_CHARS:
        raise ExportFailure(
            "ExcelLimitExceeded",
            f"Row {row}, column {column!r} has {len(value)} characters; an Excel cell holds at "
            f"most {MAX_CELL_CHARS}. Export as CSV or Parquet instead.",
            row=row,
            column=column,
        )
    if ILLEGAL_CHARACTERS_RE.search(value):
        raise ExportFailure(
            "ExcelUnsupportedText",
            f"Row {row}, column {column!r} holds a control character that XLSX files cannot "
            "contain. Export as CSV or Parquet instead.",
            row=row,
            column=column,
        )
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # a string, even if it starts with "=": never a formula
    return cell
