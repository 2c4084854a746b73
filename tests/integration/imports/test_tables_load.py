"""Workbook, SQLite and Parquet payloads load into a real Postgres exactly as expected.json says.

Each table is created from its columns, filled with ``COPY ... FROM STDIN (FORMAT csv)`` from
``batches()``, given its keys and indexes, and read back as ``col::text``.
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
from bitdotio.imports.excel import read_excel
from bitdotio.imports.parquet import read_parquet
from bitdotio.imports.source import ImportLimits, Parsed, TableSource
from bitdotio.imports.sqlite import read_sqlite

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
EXPECTED = json.loads((DATA / "expected.json").read_text())
FILES = [
    "workbook.xlsx",
    "workbook.xls",
    "workbook.ods",
    "one_sheet.xlsx",
    "shop.sqlite",
    "hostile.sqlite",
    "types.parquet",
]
ORDINAL = "__row_ordinal__"  # keeps the file's row order without relying on heap order


def parse(path: Path) -> Parsed:
    limits = ImportLimits(sqlite_timeout_s=10)
    fmt = path.suffix.lstrip(".")
    if fmt == "sqlite":
        return read_sqlite(path, limits=limits)
    if fmt == "parquet":
        return read_parquet(path, table_name=path.stem, limits=limits)
    return read_excel(path, table_name=path.stem, infer_header="auto", limits=limits, fmt=fmt)


@pytest.fixture
def conn(cluster: Cluster) -> Iterator[psycopg.Connection]:
    schema = sql.Identifier(f"imports_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(cluster.access.platform(), autocommit=True) as connection:
        connection.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        connection.execute(sql.SQL("SET search_path = {}").format(schema))
        try:
            yield connection
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))


def load(conn: psycopg.Connection, table: TableSource) -> None:
    name = sql.Identifier(table.name)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            sql.SQL(c.pg_type),
            sql.SQL(" NOT NULL" if c.not_null else ""),
        )
        for c in table.columns
    )
    conn.execute(
        sql.SQL("CREATE TABLE {} ({} bigserial, {})").format(name, sql.Identifier(ORDINAL), columns)
    )
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(name, names)
    with conn.cursor().copy(copy) as stream:
        for chunk in table.batches():
            assert chunk.endswith(b"\n")
            stream.write(chunk)


def add_constraints(conn: psycopg.Connection, table: TableSource) -> None:
    name = sql.Identifier(table.name)

    def idents(columns: tuple[str, ...]) -> sql.Composable:
        return sql.SQL(", ").join(map(sql.Identifier, columns))

    if table.primary_key:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(name, idents(table.primary_key))
        )
    for index in table.indexes:
        conn.execute(
            sql.SQL("CREATE {}INDEX {} ON {} ({})").format(
                sql.SQL("UNIQUE " if index.unique else ""),
                sql.Identifier(index.name),
                name,
                idents(index.columns),
            )
        )
    for fk in table.foreign_keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                name, idents(fk.columns), sql.Identifier(fk.ref_table), idents(fk.ref_columns)
            )
        )


def read_back(conn: psycopg.Connection, table: TableSource) -> list[list[str | None]]:
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
        load(conn, table)
    for table in parsed.tables:  # referenced tables come first, so keys can be added in order
        add_constraints(conn, table)
    for table in parsed.tables:
        want = expected["tables"][table.name]
        assert [[c.name, c.pg_type] for c in table.columns] == want["columns"]
        assert read_back(conn, table) == want["rows"], table.name
        assert table.row_count == len(want["rows"])
