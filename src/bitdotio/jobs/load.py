"""The tenant transaction of an import: create or match the tables, COPY the rows, then keys.

It runs as the caller's own Postgres role (security.md §1.7), so it can do exactly what the
caller may do, and in one transaction: a failure leaves no new table and no rows. Tables it
creates are filled with ``COPY ... FREEZE``; with the embedded Postgres's ``wal_level =
minimal`` their rows also skip the WAL. Before anything is written the transaction's id goes to
``on_xid`` (the catalog keeps it, so a retried job can ask whether this transaction committed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from bitdotio.imports.source import PG_TYPES, Column, ImportFailure, Parsed, TableSource

__all__ = ["LoadedTable", "load"]

_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_GENERATED = re.compile(r"column_(\d+)")


@dataclass(frozen=True)
class LoadedTable:
    schema: str
    name: str
    rows: int
    created: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "rows": self.rows,
            "created": self.created,
        }


def load(
    conninfo: str,
    parsed: Parsed,
    *,
    schema: str,
    timeout_s: float,
    on_xid: Callable[[int], None],
    before_commit: Callable[[list[LoadedTable]], None],
) -> list[LoadedTable]:
    """Load every table of ``parsed`` into ``schema`` in one transaction."""
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute(
                sql.SQL("SET LOCAL statement_timeout = {}").format(
                    sql.Literal(int(timeout_s * 1000))
                )
            )
            row = conn.execute("SELECT pg_catalog.pg_current_xact_id()::text").fetchone()
            assert row is not None
            on_xid(int(row[0]))
            _ensure_schema(conn, schema)
            loaded = [_load_table(conn, schema, table) for table in parsed.tables]
            created = {t.name for t in loaded if t.created}
            for table in parsed.tables:
                if table.name in created:
                    _add_keys(conn, schema, table)
            before_commit(loaded)
            conn.commit()
            return loaded
    except psycopg.Error as exc:
        raise _failure(exc) from None


def _qualified(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    row = conn.execute(
        "SELECT pg_catalog.to_regnamespace(%s) IS NOT NULL", [_quote(schema)]
    ).fetchone()
    if row and not row[0]:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def _quote(name: str) -> str:
    """``name`` as a quoted identifier string for the ``to_reg*`` functions."""
    return '"' + name.replace('"', '""') + '"'


def _existing_columns(conn: psycopg.Connection, schema: str, name: str) -> list[str] | None:
    row = conn.execute(
        "SELECT pg_catalog.to_regclass(%s)::oid", [f"{_quote(schema)}.{_quote(name)}"]
    ).fetchone()
    if row is None or row[0] is None:
        return None
    cur = conn.execute(
        "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        [row[0]],
    )
    return [r[0] for r in cur.fetchall()]


def _match_columns(table: TableSource, existing: list[str], schema: str) -> list[str]:
    """The existing table's column for each source column (docs/reference/imports.md)."""
    names = [c.name for c in table.columns]
    if all(_GENERATED.fullmatch(n) and int(n[7:]) == i + 1 for i, n in enumerate(names)):
        # No header row: match by position.
        if len(names) > len(existing):
            raise ImportFailure(
                "ColumnMismatch",
                f"The file has {len(names)} columns but {schema}.{table.name} has only "
                f"{len(existing)}; without a header row, columns are matched by position.",
                table=table.name,
                file_columns=len(names),
                table_columns=existing,
            )
        return existing[: len(names)]
    exact = set(existing)
    folded: dict[str, list[str]] = {}
    for column in existing:
        folded.setdefault(column.lower(), []).append(column)
    matched: list[str] = []
    missing: list[str] = []
    for name in names:
        if name in exact:
            matched.append(name)
        elif len(folded.get(name.lower(), [])) == 1:
            matched.append(folded[name.lower()][0])
        else:
            missing.append(name)
    if missing:
        raise ImportFailure(
            "ColumnMismatch",
            f"{schema}.{table.name} already exists and has no column named "
            + ", ".join(repr(m) for m in missing)
            + ". Rename the file's columns, or import into a new table.",
            table=table.name,
            unmatched_columns=missing,
            table_columns=existing,
        )
    return matched


def _column_def(column: Column) -> sql.Composed:
    if column.pg_type not in PG_TYPES:  # readers choose from a fixed set; never user text
        raise ValueError(f"unexpected column type {column.pg_type!r}")
    return sql.SQL("{} {}{}").format(
        sql.Identifier(column.name),
        sql.SQL(column.pg_type),
        sql.SQL(" NOT NULL" if column.not_null else ""),
    )


def _load_table(conn: psycopg.Connection, schema: str, table: TableSource) -> LoadedTable:
    existing = _existing_columns(conn, schema, table.name)
    target = _qualified(schema, table.name)
    if existing is None:
        conn.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                target, sql.SQL(", ").join(_column_def(c) for c in table.columns)
            )
        )
        columns = [c.name for c in table.columns]
        options = sql.SQL("FORMAT csv, FREEZE")
    else:
        columns = _match_columns(table, existing, schema)
        options = sql.SQL("FORMAT csv")
    copy = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)), options
    )
    with conn.cursor() as cur:
        try:
            with cur.copy(copy) as pipe:
                for chunk in table.batches():
                    pipe.write(chunk)
        except psycopg.Error as exc:
            raise _failure(exc, table) from None
        rows = cur.rowcount
    return LoadedTable(schema, table.name, rows, existing is None)


def _add_keys(conn: psycopg.Connection, schema: str, table: TableSource) -> None:
    """Primary key, indexes, then foreign keys: after the rows, which is faster."""
    target = _qualified(schema, table.name)
    if table.primary_key:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                target, sql.SQL(", ").join(map(sql.Identifier, table.primary_key))
            )
        )
    for index in table.indexes:
        conn.execute(
            sql.SQL("CREATE {}INDEX ON {} ({})").format(
                sql.SQL("UNIQUE " if index.unique else ""),
                target,
                sql.SQL(", ").join(map(sql.Identifier, index.columns)),
            )
        )
    for fk in table.foreign_keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                target,
                sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                _qualified(schema, fk.ref_table),
                sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
            )
        )


def _failure(exc: psycopg.Error, table: TableSource | None = None) -> ImportFailure:
    """A Postgres error as something the user can act on, with the row it happened at."""
    diag = exc.diag
    message = diag.message_primary or str(exc).strip()
    details: dict[str, Any] = {"sqlstate": exc.sqlstate}
    if diag.message_detail:
        details["detail"] = diag.message_detail
    sqlstate = exc.sqlstate or ""
    if table is not None:
        details["table"] = table.name
        match = _COPY_CONTEXT.search(diag.context or "")
        if match:
            details.update(table.row_origin(int(match.group(1))))
            if match.group(2):
                details["column"] = match.group(2)
    where = ", ".join(
        f"{k} {v}" for k, v in details.items() if k in ("line", "row", "sheet", "column")
    )
    text = f"{message} ({table.origin}{', ' + where if where else ''})" if table else message
    if sqlstate == "42501":
        return ImportFailure("PermissionDenied", f"Permission denied: {message}", **details)
    if sqlstate == "57014":
        return ImportFailure(
            "Timeout", "The import took longer than the time limit and was stopped", **details
        )
    if sqlstate in ("53100", "53200", "54000"):
        return ImportFailure("ResourceLimit", text, **details)
    if sqlstate == "54011":
        return ImportFailure("TooManyColumns", text, **details)
    if sqlstate.startswith(("22", "23")):
        return ImportFailure("InvalidValue", text, **details)
    if sqlstate.startswith("42"):
        return ImportFailure("InvalidTable", text, **details)
    return ImportFailure("LoadFailed", text, **details)
