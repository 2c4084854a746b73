"""The workbook reader's subprocess: parses a hostile xlsx/xls/ods under rlimits, writes payload.

Run as ``python -m bitdotio.imports._workbook_child FILE OUT_DIR LIMITS_JSON`` (see ``_child``;
LIMITS_JSON also holds ``fmt``, ``infer_header``, ``max_columns`` and ``max_tables``). It caps
its own address space and CPU time, then reads every sheet with python-calamine twice: once to
find its first row, type its columns and decide the header, once to write its rows as COPY
payload. calamine holds a whole sheet in memory while it reads it, which is why this runs here
and not in the server (security.md §4.5). Into OUT_DIR go, for the i-th sheet with data,
``sheet_<i>.csv`` (the payload) and ``sheet_<i>.rows`` (the sheet row number of each payload
row, as native ``array("I")`` items), and then ``result.json``::

    {"sheets": [{"sheet", "columns": [[name, pg_type], ...], "file", "chunks": [bytes, ...],
                 "rows_file", "row_count"}, ...],
     "skipped": [{"name", "kind", "reason"}, ...]}

or ``error.json`` and exit status 3.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bitdotio.imports import _child  # before polars: it imports nothing that starts threads

if __name__ == "__main__":
    # polars sizes its thread pools once, when imported (below). One thread keeps the address
    # space this process needs small (about 250 MB) and the same on any machine; calamine and
    # the rest of the reading run on one thread anyway.
    _child.before_threads({"POLARS_MAX_THREADS": "1"})

import python_calamine as calamine

from bitdotio.imports._payload import chunked, csv_row
from bitdotio.imports._workbook_cells import (
    Cell,
    ColumnProfile,
    cell_text,
    convert_column,
)
from bitdotio.imports.columns import generated_names, normalise_names
from bitdotio.imports.infer import value_type
from bitdotio.imports.source import ImportFailure, InferHeader

MAX_ROWS = 1_048_576  # Excel's own sheet limit; a forged sheet may claim more
_BATCH_ROWS = 5_000
_NAMES = {"xlsx": "Excel", "xls": "Excel", "ods": "OpenDocument"}


def _open(path: Path, fmt: str) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises CalamineError, ValueError or a bare Exception
        raise _corrupt(fmt, exc) from None


def _corrupt(fmt: str, exc: Exception) -> ImportFailure:
    return ImportFailure(
        "CorruptFile", f"The {_NAMES[fmt]} file ({fmt}) cannot be read: {exc}", reason=str(exc)
    )


def _iter_sheet(workbook: calamine.CalamineWorkbook, fmt: str, name: str) -> Iterator[list[Cell]]:
    """The sheet's rows from its first row (calamine starts at row 1, blank rows included)."""
    try:
        return iter(workbook.get_sheet_by_name(name).iter_rows())
    except Exception as exc:  # malformed XML, XML entities, a broken record...
        raise _corrupt(fmt, exc) from None


def _is_blank(row: list[Cell]) -> bool:
    return all(cell == "" for cell in row)


class _SheetScan:
    """One pass over a sheet: its first non-blank row, every column's profile, row numbers."""

    def __init__(self, rows: Iterator[list[Cell]], max_columns: int, origin: str) -> None:
        self.first: list[Cell] = []
        self.profiles: list[ColumnProfile] = []
        self.row_numbers = array("I")  # sheet row (1-based) of each non-blank row
        for number, row in enumerate(rows, start=1):
            if number > MAX_ROWS:
                raise ImportFailure("TooLarge", f"{origin} has more than {MAX_ROWS} rows.")
            if _is_blank(row):
                continue  # layout, not data
            if not self.profiles:
                self._start(row, max_columns, origin)
            else:
                for profile, cell in zip(self.profiles, row, strict=False):
                    profile.add(cell)
            self.row_numbers.append(number)

    def _start(self, row: list[Cell], max_columns: int, origin: str) -> None:
        if len(row) > max_columns:
            raise ImportFailure(
                "TooManyColumns",
                f"{origin} has {len(row)} columns; at most {max_columns} are allowed.",
                columns=len(row),
            )
        self.first = row
        self.profiles = [ColumnProfile() for _ in row]

    def has_header(self, infer_header: InferHeader) -> bool:
        """``auto``: the CSV reader's rule (docs, "Header detection"), on text cells only.

        A typed cell (number, date, boolean...) in the first row makes it data. Otherwise,
        when some column has a non-text type, the first row is a header iff each of its cells
        above such a column is empty or would make that column text, and one is not empty;
        when every column is text, iff its cells are all non-empty, distinct ignoring case
        and each alone would be text.
        """
        if infer_header != "auto":
            return infer_header == "first_row"
        if not all(isinstance(cell, str) for cell in self.first):
            return False
        cells = [str(cell) for cell in self.first]
        typed = [(c, p) for c, p in zip(cells, self.profiles, strict=True) if p.pg_type != "text"]
        if typed:
            return any(cells) and all(not c or not p.accepts(c) for c, p in typed)
        return (
            all(cells)
            and len({cell.casefold() for cell in cells}) == len(cells)
            and all(value_type(cell) == "text" for cell in cells)
        )

    def take_first_row_as_data(self) -> None:
        for profile, cell in zip(self.profiles, self.first, strict=True):
            profile.add(cell)


def _scan_sheets(
    workbook: calamine.CalamineWorkbook, fmt: str, limits: dict[str, Any]
) -> tuple[list[tuple[str, _SheetScan]], list[dict[str, str]]]:
    found: list[tuple[str, _SheetScan]] = []
    skipped: list[dict[str, str]] = []
    for sheet in workbook.sheets_metadata:
        if sheet.typ != calamine.SheetTypeEnum.WorkSheet:
            skipped.append(_skipped(sheet.name, "only worksheets hold tables"))
            continue
        origin = f"Sheet {sheet.name!r}"
        rows = _iter_sheet(workbook, fmt, sheet.name)
        scan = _SheetScan(rows, limits["max_columns"], origin)
        if scan.profiles:
            found.append((sheet.name, scan))
        else:
            skipped.append(_skipped(sheet.name, "the sheet is empty"))
    if len(found) > limits["max_tables"]:
        raise ImportFailure(
            "TooLarge",
            f"The workbook has {len(found)} sheets with data; at most {limits['max_tables']} "
            "can be imported at once.",
        )
    return found, skipped


def _skipped(name: str, reason: str) -> dict[str, str]:
    return {"name": name, "kind": "sheet", "reason": reason}


def _payload_rows(
    rows: Iterator[list[Cell]], profiles: list[ColumnProfile], has_header: bool
) -> Iterator[str]:
    data = (row for row in rows if not _is_blank(row))
    if has_header:
        next(data, None)
    batch: list[list[str | None]] = []
    for row in data:
        batch.append([cell_text(cell) for cell in row])
        if len(batch) >= _BATCH_ROWS:
            yield from _converted(batch, profiles)
            batch = []
    yield from _converted(batch, profiles)


def _converted(batch: list[list[str | None]], profiles: list[ColumnProfile]) -> Iterator[str]:
    if not batch:
        return
    columns = [convert_column([row[n] for row in batch], p) for n, p in enumerate(profiles)]
    for values in zip(*columns, strict=True):
        yield csv_row(values)


def _write_sheet(
    workbook: calamine.CalamineWorkbook,
    sheet: str,
    scan: _SheetScan,
    number: int,
    out: Path,
    limits: dict[str, Any],
) -> dict[str, Any]:
    """Settle the sheet's header and types, then write its payload and row numbers."""
    has_header = scan.has_header(limits["infer_header"])
    if not has_header:
        scan.take_first_row_as_data()
    names = (
        normalise_names([cell_text(cell) for cell in scan.first])
        if has_header
        else generated_names(len(scan.first))
    )
    columns = [[name, p.pg_type] for name, p in zip(names, scan.profiles, strict=True)]
    numbers = scan.row_numbers[1:] if has_header else scan.row_numbers
    description: dict[str, Any] = {
        "sheet": sheet,
        "columns": columns,
        "file": f"sheet_{number}.csv",
        "chunks": [],
        "rows_file": f"sheet_{number}.rows",
        "row_count": len(numbers),
    }
    with (out / description["rows_file"]).open("wb") as file:
        numbers.tofile(file)
    rows = _payload_rows(_iter_sheet(workbook, limits["fmt"], sheet), scan.profiles, has_header)
    with (out / description["file"]).open("wb") as file:
        for chunk in chunked(rows):
            file.write(chunk)
            description["chunks"].append(len(chunk))
    return description


def read(path: Path, out: Path, limits: dict[str, Any]) -> dict[str, Any]:
    fmt = limits["fmt"]
    workbook = _open(path, fmt)
    try:
        found, skipped = _scan_sheets(workbook, fmt, limits)
        found.reverse()
        sheets: list[dict[str, Any]] = []
        while found:  # popped, so that each sheet's scan goes once its payload is written
            sheet, scan = found.pop()
            sheets.append(_write_sheet(workbook, sheet, scan, len(sheets), out, limits))
    finally:
        workbook.close()
    return {"sheets": sheets, "skipped": skipped}


def _reported(exc: Exception) -> ImportFailure | None:
    """Only our own failures; anything else, MemoryError included, is for the parent to judge."""
    return exc if isinstance(exc, ImportFailure) else None


def main(argv: list[str]) -> int:
    return _child.main(argv, read, _reported)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
