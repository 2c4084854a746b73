"""Readers' payloads loaded into a real Postgres and read back, cell by cell.

``load`` creates a table from a ``TableSource``'s columns (with a row ordinal) and COPYs its
``batches()`` under ``TimeZone = America/New_York`` and ``DateStyle = SQL, DMY``, so a payload
that leaned on the session's settings would be caught; ``read_back`` reads ``col::text`` in
UTC and ISO, in the file's row order, as expected.json spells the values.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bitdotio.cluster.bootstrap import Cluster
from bitdotio.imports.source import TableSource

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text())
ORDINAL = "__row_ordinal__"  # keeps the file's row order without relying on heap order


@pytest.fixture
def conn(cluster: Cluster) -> Iterator[psycopg.Connection]:
    """The platform's connection with a scratch schema first in its search_path."""
    schema = sql.Identifier(f"payloads_{uuid.uuid4().hex[:12]}")
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
