"""What an export reads: the user's query or a whole table, described before it runs, and the
SQL that reads it with one expression per column chosen by the writer.

The user's SQL is prepared on its own first (the extended protocol: one statement, nothing
executed), which gives the columns and their types; the writers then read
``SELECT <expr per column> FROM (<the user's SQL>) AS q(c1, c2, ...)``, where the positional
aliases let any column name (repeated ones too) be addressed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import pq, sql

from bitdotio.column_names import dedupe
from bitdotio.exports.formats import ExportFailure

__all__ = ["Column", "Source", "describe", "failure_from"]


@dataclass(frozen=True)
class Column:
    name: str  # unique among the columns: repeated names get _2, _3 (column_names.dedupe)
    type_name: str  # pg_type.typname of the base type (a domain's base type)
    category: str  # pg_type.typcategory of the base type: N numeric, S string, A array...
    typmod: int  # the column's type modifier, -1 if none
    element: str | None  # for arrays, the element's typname

    @property
    def alias(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    def numeric_precision(self) -> tuple[int, int] | None:
        """(precision, scale) of a ``numeric(p, s)`` column; None when unconstrained."""
        if self.type_name != "numeric" or self.typmod < 4:
            return None
        mod = self.typmod - 4
        return (mod >> 16) & 0xFFFF, ((mod & 0x7FF) ^ 1024) - 1024


Expression = Callable[[Column, sql.Composable], sql.Composable]  # column, q.cN -> select item


@dataclass(frozen=True)
class Source:
    inner: sql.Composable  # the user's statement, or SELECT * FROM the table
    columns: list[Column]

    def select(self, expression: Expression) -> sql.Composed:
        """``SELECT expression(column, q.cN) AS name, ... FROM (inner) AS q(c1, ...)``."""
        refs = [sql.Identifier("q", f"c{i}") for i in range(1, len(self.columns) + 1)]
        items = [
            sql.SQL("{} AS {}").format(expression(column, ref), column.alias)
            for column, ref in zip(self.columns, refs, strict=True)
        ]
        return sql.SQL("SELECT {} FROM ({}\n) AS q({})").format(
            sql.SQL(", ").join(items),
            self.inner,
            sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(1, len(refs) + 1)),
        )

    def as_rows_of_json(self) -> sql.Composed:
        """One JSON object per row, keyed by the (unique) column names: ``row_to_json``."""
        return sql.SQL("SELECT pg_catalog.row_to_json(q) FROM ({}\n) AS q({})").format(
            self.inner, sql.SQL(", ").join(c.alias for c in self.columns)
        )


_TYPES = """
WITH RECURSIVE chain(oid, base) AS (
    SELECT t.oid, t.oid FROM pg_catalog.pg_type t WHERE t.oid = ANY(%s::oid[])
    UNION ALL
    SELECT chain.oid, t.typbasetype FROM chain
    JOIN pg_catalog.pg_type t ON t.oid = chain.base WHERE t.typtype = 'd'
)
SELECT chain.oid, b.typname, b.typcategory, e.typname
FROM chain
JOIN pg_catalog.pg_type b ON b.oid = chain.base AND b.typtype <> 'd'
LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
"""


def describe(
    conn: psycopg.Connection,
    *,
    query_string: str | None = None,
    table: tuple[str, str] | None = None,
) -> Source:
    """Prepare the source as the caller (nothing runs) and read its columns."""
    if table is not None:
        schema, name = table
        inner: sql.Composable = sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name))
    else:
        assert query_string is not None
        inner = sql.SQL(_strip_terminator(query_string))
    statement = inner.as_bytes(conn)
    pgconn = conn.pgconn
    prepared = pgconn.prepare(b"", statement)
    _check(conn, prepared)
    described = pgconn.describe_prepared(b"")
    _check(conn, described)
    if described.nfields == 0:
        raise ExportFailure(
            "NoResult", "The query returns no rows to export: use a SELECT (or VALUES, TABLE)"
        )
    names = [(described.fname(i) or b"?column?").decode() for i in range(described.nfields)]
    oids = [described.ftype(i) for i in range(described.nfields)]
    mods = [described.fmod(i) for i in range(described.nfields)]
    types = {
        oid: (name, category, element)
        for oid, name, category, element in conn.execute(_TYPES, [oids]).fetchall()
    }
    return Source(
        inner,
        [
            Column(name, types[oid][0], types[oid][1], mod, types[oid][2])
            for name, oid, mod in zip(dedupe(names), oids, mods, strict=True)
        ],
    )


def _strip_terminator(query: str) -> str:
    """``SELECT 1;`` is how people write SQL; the subquery cannot hold the semicolon."""
    return query.strip().rstrip(";").rstrip()


def _check(conn: psycopg.Connection, result: pq.abc.PGresult) -> None:
    if result.status == pq.ExecStatus.FATAL_ERROR:
        raise failure_from(psycopg.errors.error_from_result(result, encoding=conn.info.encoding))


def failure_from(error: psycopg.Error) -> ExportFailure:
    """A Postgres error while reading -> the ``error_type`` and message a user can act on."""
    sqlstate = error.sqlstate
    diag = error.diag
    message = diag.message_primary or str(error)
    if sqlstate == "57014":
        return ExportFailure(
            "QueryTimeout",
            f"The export was cancelled by the statement timeout ({message}). Export fewer "
            "rows, or ask the operator to raise export-timeout-s.",
            sqlstate=sqlstate,
        )
    if sqlstate == "42501":
        return ExportFailure("PermissionDenied", message, sqlstate=sqlstate)
    if sqlstate == "25006":
        return ExportFailure("ReadOnly", f"Exports only read: {message}", sqlstate=sqlstate)
    if sqlstate == "42601" and "multiple commands" in message:
        return ExportFailure(
            "MultipleStatements", "An export runs exactly one SQL statement", sqlstate=sqlstate
        )
    if sqlstate and sqlstate[:2] in ("08", "53", "57", "58"):
        return ExportFailure("DatabaseUnavailable", message, sqlstate=sqlstate)
    return ExportFailure(
        "SqlError",
        message,
        sqlstate=sqlstate,
        detail=diag.message_detail,
        hint=diag.message_hint,
        position=diag.statement_position,
    )
