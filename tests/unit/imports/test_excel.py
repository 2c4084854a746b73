"""The workbook reader: sheets to tables, cell types, headers, and hostile zips and XML."""

from __future__ import annotations

import gc
import importlib.util
import json
import resource
import signal
import time
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bitdotio.imports.excel import read_excel
from bitdotio.imports.source import ImportFailure, ImportLimits, InferHeader, Parsed

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
EXPECTED = json.loads((DATA / "expected.json").read_text())
LIMITS = ImportLimits()


def _fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fixtures", DATA / "make_fixtures_tables.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURES = _fixtures()


def read(
    path: Path,
    *,
    fmt: str = "xlsx",
    infer_header: InferHeader = "auto",
    limits: ImportLimits = LIMITS,
) -> Parsed:
    return read_excel(path, table_name=path.stem, infer_header=infer_header, limits=limits, fmt=fmt)


def workbook(tmp_path: Path, rows: list[list[Any]], name: str = "sheet") -> Path:
    path = tmp_path / f"{name}.xlsx"
    FIXTURES.write_xlsx(path, [("S", rows)])
    return path


def payload(parsed: Parsed) -> str:
    return b"".join(parsed.tables[0].batches()).decode()


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_one_table_per_non_empty_sheet(fmt: str) -> None:
    parsed = read(DATA / f"workbook.{fmt}", fmt=fmt)
    expected = EXPECTED[f"workbook.{fmt}"]["tables"]
    assert parsed.format == fmt
    assert [t.name for t in parsed.tables] == list(expected)
    for table in parsed.tables:
        assert [[c.name, c.pg_type] for c in table.columns] == expected[table.name]["columns"]
    assert [(s.name, s.kind) for s in parsed.skipped] == [("Empty", "sheet")]


def test_a_single_sheet_takes_the_table_name() -> None:
    parsed = read(DATA / "one_sheet.xlsx")
    assert [t.name for t in parsed.tables] == ["one_sheet"]
    assert payload(parsed) == "Ann,10.5,1\nBob,3,2\n"


def test_payload_and_row_origin() -> None:
    table = read(DATA / "workbook.xlsx").tables[0]
    lines = b"".join(table.batches()).decode().splitlines()
    assert lines[0] == "1,Paris,2102650,105.4,1900-03-01,2024-01-02 03:04:05,true,075,1,"
    assert lines[2] == '3,"Nice, ""Côte""",,71.92,,,,,true,'
    assert table.row_origin(1) == {"sheet": "Cities", "row": 2}


def test_blank_rows_are_skipped_and_rows_keep_their_sheet_numbers(tmp_path: Path) -> None:
    rows: list[list[Any]] = [[None, None], ["a", "b"], [1, "x"], [None, None], [2, "y"]]
    table = read(workbook(tmp_path, rows)).tables[0]
    assert b"".join(table.batches()) == b"1,x\n2,y\n"
    assert [table.row_origin(n)["row"] for n in (1, 2)] == [3, 5]


@pytest.mark.parametrize(
    ("infer_header", "names", "rows"),
    [
        ("auto", ["id", "name"], 1),
        ("first_row", ["id", "name"], 1),
        ("no_header", ["column_1", "column_2"], 2),
    ],
)
def test_header_choices(
    tmp_path: Path, infer_header: InferHeader, names: list[str], rows: int
) -> None:
    table = read(workbook(tmp_path, [["id", "name"], [1, "x"]]), infer_header=infer_header)
    assert [c.name for c in table.tables[0].columns] == names
    assert table.tables[0].row_count == rows


def test_auto_header_sees_data_in_the_first_row(tmp_path: Path) -> None:
    table = read(workbook(tmp_path, [[1, "a"], [2, "b"]])).tables[0]
    assert [(c.name, c.pg_type) for c in table.columns] == [
        ("column_1", "integer"),
        ("column_2", "text"),
    ]


def test_text_cells_are_inferred_and_mixed_columns_fall_back(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["text date", "text and number", "number and word", "big", "bools"],
        ["2024-01-05", "12", 1.5, 2**40, "yes"],
        ["2024-02-29", 3, "n/a", 1, True],
    ]
    table = read(workbook(tmp_path, rows)).tables[0]
    types = [c.pg_type for c in table.columns]
    assert types == ["date", "integer", "text", "bigint", "boolean"]
    assert b"".join(table.batches()) == (
        b"2024-01-05,12,1.5,1099511627776,yes\n2024-02-29,3,n/a,1,true\n"
    )


def test_column_limit(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as failure:
        read(workbook(tmp_path, [["a", "b", "c"]]), limits=ImportLimits(max_columns=2))
    assert failure.value.error_type == "TooManyColumns"


@pytest.mark.parametrize("name", ["corrupt.xlsx", "billion_laughs.xlsx", "xxe.xlsx"])
def test_broken_and_hostile_workbooks_fail_fast_and_small(name: str) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImportFailure) as failure:
        read(DATA / name)
    assert failure.value.error_type == EXPECTED[name]["error_type"] == "CorruptFile"
    assert time.monotonic() - started < 1
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert peak_kib < 50 * 1024
    assert "root:" not in failure.value.message  # no file contents leak through XXE


def test_zip_member_count(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as failure:
        read(DATA / "workbook.xlsx", limits=ImportLimits(zip_max_members=3))
    assert failure.value.error_type == "TooLarge"


def test_zip_total_size(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as failure:
        read(DATA / "workbook.ods", fmt="ods", limits=ImportLimits(zip_max_total_bytes=1000))
    assert failure.value.error_type == "TooLarge"


def test_zip_ratio_bomb(tmp_path: Path) -> None:
    path = workbook(tmp_path, [["a"], [1]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/zeros.bin", b"0" * (4 * 1024**2))
    with pytest.raises(ImportFailure) as failure:
        read(path)
    assert failure.value.error_type == "TooLarge"
    assert "zeros.bin" in failure.value.message


def test_unknown_format() -> None:
    with pytest.raises(ImportFailure) as failure:
        read(DATA / "workbook.xlsx", fmt="numbers")
    assert failure.value.error_type == "UnsupportedFormat"


# -- the child process that parses workbooks (security.md §4.5) ------------------------------

# The child needs about 250 MB of address space to start (polars' runtime alone maps 130 MB) and
# read a small workbook; this cap leaves it room for that and not for a ~1 GB sheet.
CHILD_MEMORY = 512 * 1024**2


def amplified_xlsx(path: Path, rows: int, columns: int, length: int) -> Path:
    """Every cell shows one shared string of ``length`` characters, which calamine copies into
    each cell: a file of about ``rows * columns * 20`` bytes needs ``rows * columns * length``
    bytes of memory once a sheet is read. Its parts are not compressed enough to be a zip bomb.
    """
    letters = [FIXTURES._column_letter(c) for c in range(columns)]
    body = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{x}{r}" t="s"><v>0</v></c>' for x in letters) + "</row>"
        for r in range(1, rows + 1)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{body}</sheetData></worksheet>"
    )
    FIXTURES._write_zip(path, FIXTURES._xlsx_parts([("S", sheet)], ["x" * length]))
    return path


def rss_kib() -> int:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize() // 1024


def test_a_workbook_too_big_for_memory_fails_in_the_child(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    limits = ImportLimits(workbook_max_memory_bytes=CHILD_MEMORY, scratch_dir=str(scratch))
    assert payload(read(DATA / "one_sheet.xlsx", limits=limits)) == "Ann,10.5,1\nBob,3,2\n"
    gc.collect()
    assert not list(scratch.iterdir())  # the payload went with the tables
    path = amplified_xlsx(tmp_path / "amplified.xlsx", rows=50_000, columns=10, length=2000)
    assert path.stat().st_size < 2 * 1024**2  # and 1 GB once read
    rss_before = rss_kib()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImportFailure) as failure:
        read(path, limits=limits)
    assert time.monotonic() - started < 10
    assert rss_kib() - rss_before < 5 * 1024
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 5 * 1024
    assert failure.value.error_type == "TooLarge"
    assert failure.value.message.startswith("The workbook needs more memory (or time) than an")
    assert failure.value.details == {"memory_bytes": CHILD_MEMORY, "timeout_s": 120.0}
    assert not list(scratch.iterdir())


def test_a_workbook_too_slow_to_read_fails_in_the_child(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = amplified_xlsx(tmp_path / "long.xlsx", rows=100_000, columns=10, length=10)
    started = time.monotonic()
    with pytest.raises(ImportFailure) as failure:
        read(path, limits=ImportLimits(workbook_timeout_s=1))  # it needs about 3 s of CPU
    assert time.monotonic() - started < 10
    assert failure.value.error_type == "TooLarge"
    assert f"exited with status {-signal.SIGXCPU}" in caplog.text
