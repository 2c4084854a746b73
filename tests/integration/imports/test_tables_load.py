"""Workbook, SQLite and Parquet payloads load into a real Postgres exactly as expected.json says.

Each table is created from its columns, filled with ``COPY ... FROM STDIN (FORMAT csv)`` from
``batches()`` (under ``DateStyle = SQL, DMY``: conftest.py), given its keys and indexes, and
read back as ``col::text``.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bitdotio.imports.excel import read_excel
from bitdotio.imports.parquet import read_parquet
from bitdotio.imports.source import ImportLimits, Parsed, TableSource
from bitdotio.imports.sqlite import read_sqlite
from tests.integration.imports.conftest import DATA, EXPECTED, load, read_back

FILES = [
    "workbook.xlsx",
    "workbook.xls",
    "workbook.ods",
    "one_sheet.xlsx",
    "shop.sqlite",
    "hostile.sqlite",
    "types.parquet",
]


def parse(path: Path) -> Parsed:
    limits = ImportLimits(sqlite_timeout_s=10)
    fmt = path.suffix.lstrip(".")
    if fmt == "sqlite":
        return read_sqlite(path, limits=limits)
    if fmt == "parquet":
        return read_parquet(path, table_name=path.stem, limits=limits)
    return read_excel(path, table_name=path.stem, infer_header="auto", limits=limits, fmt=fmt)


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
