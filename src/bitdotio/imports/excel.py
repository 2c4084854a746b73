"""Workbooks (xlsx, xls, ods) through python-calamine: one table per non-empty sheet.

xlsx and ods files are zips: their member count, declared sizes and ratios are checked before
calamine opens them (security.md §4.3). calamine's XML parser does not expand entities, so
billion-laughs and XXE sheets fail at once (§4.4; tests pin it). A sheet is read twice, once
to type its columns and once, in ``batches()``, to stream its rows; calamine holds one sheet
at a time in memory, which the zip checks bound.
"""

from __future__ import annotations

import zipfile
from array import array
from collections.abc import Iterator
from pathlib import Path

import python_calamine as calamine

from bitdotio.imports._payload import chunked, csv_row
from bitdotio.imports._workbook_cells import Cell, ColumnProfile, cell_text, convert_column
from bitdotio.imports.columns import derived_names, generated_names, normalise_names
from bitdotio.imports.infer import value_type
from bitdotio.imports.source import (
    Column,
    ImportFailure,
    ImportLimits,
    InferHeader,
    Parsed,
    Skipped,
    TableSource,
)

__all__ = ["read_excel"]

MAX_ROWS = 1_048_576  # Excel's own sheet limit; a forged sheet may claim more
_SMALL_MEMBER_BYTES = 1024**2  # below this a member cannot be a bomb, whatever its ratio
_BATCH_ROWS = 5_000
_NAMES = {"xlsx": "Excel", "xls": "Excel", "ods": "OpenDocument"}


def _check_zip(path: Path, limits: ImportLimits, fmt: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise ImportFailure("CorruptFile", f"The {fmt} file is not a valid zip archive.") from None
    if len(members) > limits.zip_max_members:
        raise ImportFailure(
            "TooLarge",
            f"The {fmt} file has {len(members)} parts; at most {limits.zip_max_members} "
            "are allowed.",
        )
    total = sum(member.file_size for member in members)
    if total > limits.zip_max_total_bytes:
        raise ImportFailure(
            "TooLarge",
            f"The {fmt} file unpacks to {total} bytes; at most {limits.zip_max_total_bytes} "
            "are allowed.",
        )
    for member in members:
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > _SMALL_MEMBER_BYTES and ratio > limits.zip_max_ratio:
            raise ImportFailure(
                "TooLarge",
                f"Part {member.filename!r} of the {fmt} file is compressed {ratio:.0f} times; "
                f"at most {limits.zip_max_ratio} is allowed (a zip bomb?).",
            )


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
    try:
        return iter(workbook.get_sheet_by_name(name).iter_rows())
    except Exception as exc:  # malformed XML, XML entities, a broken record...
        raise _corrupt(fmt, exc) from None


def _sheet_rows(path: Path, fmt: str, name: str) -> Iterator[list[Cell]]:
    """The sheet's rows from its first row (calamine starts at row 1, blank rows included)."""
    workbook = _open(path, fmt)
    try:
        yield from _iter_sheet(workbook, fmt, name)
    finally:
        workbook.close()


def _is_blank(row: list[Cell]) -> bool:
    return all(cell == "" for cell in row)


class _SheetScan:
    """One pass over a sheet: its first non-blank row, every column's profile, row numbers."""

    def __init__(self, rows: Iterator[list[Cell]], limits: ImportLimits, origin: str) -> None:
        self.first: list[Cell] = []
        self.profiles: list[ColumnProfile] = []
        self.row_numbers = array("L")  # sheet row (1-based) of each non-blank row
        for number, row in enumerate(rows, start=1):
            if number > MAX_ROWS:
                raise ImportFailure("TooLarge", f"{origin} has more than {MAX_ROWS} rows.")
            if _is_blank(row):
                continue  # layout, not data
            if not self.profiles:
                self._start(row, limits, origin)
            else:
                for profile, cell in zip(self.profiles, row, strict=False):
                    profile.add(cell)
            self.row_numbers.append(number)

    def _start(self, row: list[Cell], limits: ImportLimits, origin: str) -> None:
        if len(row) > limits.max_columns:
            raise ImportFailure(
                "TooManyColumns",
                f"{origin} has {len(row)} columns; at most {limits.max_columns} are allowed.",
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


def _payload_rows(
    path: Path, fmt: str, sheet: str, profiles: list[ColumnProfile], has_header: bool
) -> Iterator[str]:
    rows = (row for row in _sheet_rows(path, fmt, sheet) if not _is_blank(row))
    if has_header:
        next(rows, None)
    batch: list[list[str | None]] = []
    for row in rows:
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


def _scan_sheets(
    path: Path, fmt: str, limits: ImportLimits
) -> tuple[list[tuple[str, _SheetScan]], list[Skipped]]:
    found: list[tuple[str, _SheetScan]] = []
    skipped: list[Skipped] = []
    workbook = _open(path, fmt)
    try:
        for sheet in workbook.sheets_metadata:
            if sheet.typ != calamine.SheetTypeEnum.WorkSheet:
                skipped.append(Skipped(sheet.name, "sheet", "only worksheets hold tables"))
                continue
            origin = f"Sheet {sheet.name!r}"
            scan = _SheetScan(_iter_sheet(workbook, fmt, sheet.name), limits, origin)
            if scan.profiles:
                found.append((sheet.name, scan))
            else:
                skipped.append(Skipped(sheet.name, "sheet", "the sheet is empty"))
    finally:
        workbook.close()
    if len(found) > limits.max_tables:
        raise ImportFailure(
            "TooLarge",
            f"The workbook has {len(found)} sheets with data; at most {limits.max_tables} "
            "can be imported at once.",
        )
    return found, skipped


def _table_names(table_name: str, sheets: list[str]) -> list[str]:
    """One sheet: ``table_name``; several: ``<table_name>_<sheet>``, normalised and unique."""
    return [table_name] if len(sheets) == 1 else derived_names(table_name, sheets)


def _table(
    path: Path, fmt: str, name: str, sheet: str, scan: _SheetScan, infer_header: InferHeader
) -> TableSource:
    has_header = scan.has_header(infer_header)
    if not has_header:
        scan.take_first_row_as_data()
    names = (
        normalise_names([cell_text(cell) for cell in scan.first])
        if has_header
        else generated_names(len(scan.first))
    )
    profiles = scan.profiles
    numbers = scan.row_numbers[1:] if has_header else scan.row_numbers
    return TableSource(
        name=name,
        columns=[
            Column(column, profile.pg_type) for column, profile in zip(names, profiles, strict=True)
        ],
        batches=lambda: chunked(_payload_rows(path, fmt, sheet, profiles, has_header)),
        origin=f"sheet {sheet!r}",
        row_origin=lambda row: {"sheet": sheet, "row": numbers[row - 1]},
        row_count=len(numbers),
    )


def read_excel(
    path: Path, *, table_name: str, infer_header: InferHeader, limits: ImportLimits, fmt: str
) -> Parsed:
    """One table per non-empty worksheet; see docs/reference/imports.md "Excel and ODS"."""
    if fmt not in _NAMES:
        raise ImportFailure("UnsupportedFormat", f"{fmt!r} is not a workbook format.")
    if fmt != "xls":
        _check_zip(path, limits, fmt)
    found, skipped = _scan_sheets(path, fmt, limits)
    names = _table_names(table_name, [sheet for sheet, _ in found])
    tables = [
        _table(path, fmt, name, sheet, scan, infer_header)
        for name, (sheet, scan) in zip(names, found, strict=True)
    ]
    return Parsed(format=fmt, tables=tables, skipped=skipped)
