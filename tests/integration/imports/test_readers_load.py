"""CSV, JSON and ZIP payloads load into a real Postgres exactly as expected.json says.

Each file goes through ``read_file`` (detection and dispatch); each table is created from its
columns, filled with ``COPY ... FROM STDIN (FORMAT csv)`` from ``batches()`` and read back as
``col::text`` with ``TimeZone = 'UTC'`` and ``DateStyle = 'ISO'``. The payload must not depend
on DateStyle, so it is loaded under ``SQL, DMY``.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from bitdotio.imports.read import read_file
from bitdotio.imports.source import ImportFailure, ImportLimits, Parsed
from tests.integration.imports.conftest import DATA, EXPECTED, load, read_back

FILES = [
    "bom.csv",
    "semicolons.csv",
    "tabs.tsv",
    "quoted_newlines.csv",
    "empty_columns.csv",
    "duplicate_headers.csv",
    "mixed_types.csv",
    "dates.csv",
    "booleans.csv",
    "big_numbers.csv",
    "leading_zeros.csv",
    "cp1252.csv",
    "utf16.csv",
    "no_header.csv",
    "array.json",
    "object.json",
    "rows.ndjson",
    "nested.json",
    "two_tables.zip",
]
FAILING = ["ragged.csv", "binary.csv", "corrupt.json", "bomb.zip", "traversal.zip"]


def parse(path: Path) -> Parsed:
    return read_file(path, table_name=path.stem, infer_header="auto", limits=ImportLimits())


@pytest.mark.parametrize("file", FILES)
def test_payload_loads_as_expected(conn: psycopg.Connection, file: str) -> None:
    expected = EXPECTED[file]
    parsed = parse(DATA / file)
    assert parsed.format == expected["format"]
    assert sorted(t.name for t in parsed.tables) == sorted(expected["tables"])
    for table in parsed.tables:
        want = expected["tables"][table.name]
        assert [[c.name, c.pg_type] for c in table.columns] == want["columns"]
        load(conn, table)
        assert read_back(conn, table) == want["rows"], table.name
        assert table.row_count == len(want["rows"])


@pytest.mark.parametrize("file", FAILING)
def test_bad_file_fails_with_its_error_type(file: str) -> None:
    with pytest.raises(ImportFailure) as failure:
        parse(DATA / file)
    assert failure.value.error_type == EXPECTED[file]["error_type"]
