"""CSV, JSON and ZIP payloads load into a real Postgres exactly as expected.json says.

Each file goes through ``read_file`` (detection and dispatch); each table is created from its
columns, filled with ``COPY ... FROM STDIN (FORMAT csv)`` from ``batches()`` and read back as
``col::text`` with ``TimeZone = 'UTC'`` and ``DateStyle = 'ISO'``. The payload must not depend
on DateStyle, so it is loaded under ``SQL, DMY``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bitdotio.cluster.bootstrap import Cluster
from bitdotio.imports.read import read_file
from bitdotio.imports.source import ImportFailure, ImportLimits, Parsed, TableSource

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
EXPECTED = json.loads((DATA / "expected.json").read_text())
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
ORDINAL = "__row_ordinal__"  # keeps the file's row order without relying on heap order


def parse(path: Path) -> Parsed:
    return read_file(path, table_name=path.stem, infer_header="auto", limits=ImportLimits())


@pytest.fixture
def conn(cluster: Cluster) -> Iterator[psycopg.Connection]:
    schema = sql.Identifier(f"readers_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(cluster.access.platform(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        connection.execute(sql.SQL("SET search_path = {}").format(schema))
        try:
            yield connection
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))


def load(conn: psycopg.Connection, table: TableSource) -> None:
    name = sql.Identifier(table.name)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in table.columns
    )
    conn.execute(
        sql.SQL("CREATE TABLE {} ({} bigserial, {})").format(name, sql.Identifier(ORDINAL), columns)
    )
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(name, names)
    conn.execute("SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, DMY'")
    with conn.cursor().copy(copy) as stream:
        for chunk in table.batches():
            assert chunk.endswith(b"\n")
            stream.write(chunk)


def read_back(conn: psycopg.Connection, table: TableSource) -> list[list[str | None]]:
    conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
    texts = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(c.name)) for c in table.columns
    )
    query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
        texts, sql.Identifier(table.name), sql.Identifier(ORDINAL)
    )
    return [list(row) for row in conn.execute(query)]


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
