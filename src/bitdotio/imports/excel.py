"""Workbooks (xlsx, xls, ods): one table per non-empty sheet, parsed by a capped subprocess.

xlsx and ods files are zips: this process checks their member count, declared sizes and
ratios (security.md §4.3), then a child (``_workbook_child``) opens the file with
python-calamine under RLIMIT_AS (``workbook_max_memory_bytes``) and RLIMIT_CPU
(``workbook_timeout_s``): calamine holds a whole sheet in memory, and a big or forged one
must not take the server down with it (§4.5). The child types each sheet's columns, decides
its header and writes its rows as COPY payload into a scratch directory, which ``batches()``
then streams from disk; the directory goes when the last ``TableSource`` that reads it does.
calamine's XML parser does not expand entities, so billion-laughs and XXE sheets fail at once
(§4.4; tests pin it).
"""

from __future__ import annotations

import zipfile
from array import array
from pathlib import Path
from typing import Any

from bitdotio.imports._child import Scratch, run, stream
from bitdotio.imports.columns import derived_names
from bitdotio.imports.source import (
    Column,
    ImportFailure,
    ImportLimits,
    InferHeader,
    Parsed,
    Skipped,
    TableSource,
)
from bitdotio.imports.zip_reader import check_archive

__all__ = ["read_excel"]

_NAMES = {"xlsx": "Excel", "xls": "Excel", "ods": "OpenDocument"}


def _check_zip(path: Path, limits: ImportLimits, fmt: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise ImportFailure("CorruptFile", f"The {fmt} file is not a valid zip archive.") from None
    check_archive(members, limits, fmt)


def _run_child(
    path: Path, scratch: Scratch, fmt: str, infer_header: InferHeader, limits: ImportLimits
) -> dict[str, Any]:
    settings = {
        "fmt": fmt,
        "infer_header": infer_header,
        "max_columns": limits.max_columns,
        "max_tables": limits.max_tables,
    }
    too_large = ImportFailure(
        "TooLarge",
        "The workbook needs more memory (or time) than an import may use; save its sheets as "
        "CSV and import those.",
        memory_bytes=limits.workbook_max_memory_bytes,
        timeout_s=limits.workbook_timeout_s,
    )
    return run(
        "bitdotio.imports._workbook_child",
        path,
        scratch,
        settings,
        memory_bytes=limits.workbook_max_memory_bytes,
        cpu_s=limits.workbook_timeout_s,
        too_large=too_large,
        unreadable=ImportFailure("CorruptFile", f"The {_NAMES[fmt]} file ({fmt}) cannot be read."),
    )


def _table_names(table_name: str, sheets: list[str]) -> list[str]:
    """One sheet: ``table_name``; several: ``<table_name>_<sheet>``, normalised and unique."""
    return [table_name] if len(sheets) == 1 else derived_names(table_name, sheets)


def _sheet_row(file: Path, row: int, scratch: Scratch) -> int:
    """The sheet row number of payload row ``row`` (1-based), read from the child's file."""
    assert file.parent == scratch.path
    numbers = array("I")
    with file.open("rb") as numbers_file:
        numbers_file.seek((row - 1) * numbers.itemsize)
        numbers.fromfile(numbers_file, 1)
    return numbers[0]


def _table(name: str, sheet: dict[str, Any], scratch: Scratch) -> TableSource:
    sheet_name: str = sheet["sheet"]
    payload = scratch.path / sheet["file"]
    rows = scratch.path / sheet["rows_file"]
    chunks: list[int] = sheet["chunks"]
    return TableSource(
        name=name,
        columns=[Column(column, pg_type) for column, pg_type in sheet["columns"]],
        batches=lambda: stream(payload, chunks, scratch),
        origin=f"sheet {sheet_name!r}",
        row_origin=lambda row: {"sheet": sheet_name, "row": _sheet_row(rows, row, scratch)},
        row_count=sheet["row_count"],
    )


def read_excel(
    path: Path, *, table_name: str, infer_header: InferHeader, limits: ImportLimits, fmt: str
) -> Parsed:
    """One table per non-empty worksheet; see docs/reference/imports.md "Excel and ODS"."""
    if fmt not in _NAMES:
        raise ImportFailure("UnsupportedFormat", f"{fmt!r} is not a workbook format.")
    if fmt != "xls":
        _check_zip(path, limits, fmt)
    scratch = Scratch(limits.scratch_dir, "bitio-workbook-")
    try:
        result = _run_child(path, scratch, fmt, infer_header, limits)
    except BaseException:
        scratch.remove()
        raise
    sheets: list[dict[str, Any]] = result["sheets"]
    names = _table_names(table_name, [sheet["sheet"] for sheet in sheets])
    return Parsed(
        format=fmt,
        tables=[_table(name, sheet, scratch) for name, sheet in zip(names, sheets, strict=True)],
        skipped=[Skipped(**skip) for skip in result["skipped"]],
    )
