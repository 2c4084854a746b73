"""What the SQLite reader's subprocess learns from the schema: tables, keys, indexes, skips.

Names here are SQLite's own; the parent process normalises them (``sqlite.py``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from bitdotio.imports._sqlite_types import pg_type_for_declared
from bitdotio.imports.source import ImportFailure, Skipped

_CHECK = re.compile(r"\bCHECK\s*\(", re.IGNORECASE)
_VIRTUAL = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\b", re.IGNORECASE)


@dataclass
class ColumnInfo:
    name: str
    pg_type: str  # "" (UNTYPED) until the first pass over the rows settles it
    not_null: bool
    has_nulls: bool = False


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    pk_columns: list[str]
    file: str = ""
    row_count: int = 0
    chunks: list[int] = field(default_factory=list)  # byte size of each payload chunk
    primary_key: list[str] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    foreign_keys: list[dict[str, Any]] = field(default_factory=list)

    def column(self, name: str) -> ColumnInfo | None:
        """SQLite matches column names case-insensitively; so do we."""
        wanted = name.casefold()
        return next((c for c in self.columns if c.name.casefold() == wanted), None)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _skip(name: str, kind: str, reason: str) -> dict[str, str]:
    return asdict(Skipped(name, kind, reason))


def _read_table(
    conn: sqlite3.Connection, name: str, sql: str, max_columns: int
) -> tuple[TableInfo, list[dict[str, str]]]:
    skipped: list[dict[str, str]] = []
    columns: list[ColumnInfo] = []
    pk: list[tuple[int, str]] = []
    query = 'SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid'
    for column, declared, not_null, pk_position, hidden in conn.execute(query, (name,)):
        if hidden:
            skipped.append(_skip(f"{name}.{column}", "column", "generated columns are skipped"))
            continue
        columns.append(ColumnInfo(column, pg_type_for_declared(declared or ""), bool(not_null)))
        if pk_position:
            pk.append((pk_position, column))
    if len(columns) > max_columns:
        raise ImportFailure(
            "TooManyColumns",
            f"Table {name!r} has {len(columns)} columns; at most {max_columns} are allowed.",
            table=name,
            columns=len(columns),
        )
    if _CHECK.search(sql):
        skipped.append(_skip(name, "check", "CHECK constraints are not imported"))
    return TableInfo(name, columns, [column for _, column in sorted(pk)]), skipped


def read_tables(
    conn: sqlite3.Connection, limits: dict[str, Any]
) -> tuple[list[TableInfo], list[dict[str, str]]]:
    """Ordinary tables to import, and what is skipped: views, triggers, virtual tables..."""
    tables: list[TableInfo] = []
    skipped: list[dict[str, str]] = []
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY rowid").fetchall()
    for kind, name, sql in objects:
        if kind in ("view", "trigger"):
            skipped.append(_skip(name, kind, f"{kind}s are not imported"))
        elif kind != "table" or name.startswith("sqlite_"):
            continue  # indexes come with their table; sqlite_* tables are SQLite's own
        elif _VIRTUAL.match(sql or ""):
            skipped.append(_skip(name, "table", "virtual tables are not imported"))
        else:
            table, table_skips = _read_table(conn, name, sql or "", limits["max_columns"])
            skipped += table_skips
            if table.columns:
                tables.append(table)
            else:
                skipped.append(_skip(name, "table", "the table has no plain columns"))
    if len(tables) > limits["max_tables"]:
        raise ImportFailure(
            "TooLarge",
            f"The SQLite file has {len(tables)} tables; at most {limits['max_tables']} "
            "can be imported at once.",
            tables=len(tables),
        )
    return tables, skipped


def _read_primary_key(table: TableInfo) -> list[dict[str, str]]:
    if any(column.has_nulls for c in table.pk_columns if (column := table.column(c))):
        return [_skip(table.name, "primary key", "a primary key column holds NULL values")]
    table.primary_key = list(table.pk_columns)
    return []


def _read_indexes(conn: sqlite3.Connection, table: TableInfo) -> list[dict[str, str]]:
    skipped: list[dict[str, str]] = []
    query = 'SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY seq DESC'
    for name, unique, origin, partial in conn.execute(query, (table.name,)).fetchall():
        if origin == "pk":
            continue  # the primary key itself
        info = "SELECT name FROM pragma_index_info(?) ORDER BY seqno"
        columns = [row[0] for row in conn.execute(info, (name,))]
        found = [table.column(column) for column in columns if column is not None]
        if partial:
            skipped.append(_skip(name, "index", "partial indexes are not imported"))
        elif None in columns:
            skipped.append(_skip(name, "index", "expression indexes are not imported"))
        elif None in found or not found:
            skipped.append(_skip(name, "index", "the index covers a skipped column"))
        else:
            table.indexes.append(
                {
                    "name": name if origin == "c" else "",  # "": the parent names it
                    "columns": [column.name for column in found if column],
                    "unique": bool(unique),
                }
            )
    return skipped


def _violated_keys(conn: sqlite3.Connection, table: TableInfo) -> set[int] | None:
    """Foreign key ids that rows violate (SQLite does not enforce them by default)."""
    query = "SELECT DISTINCT fkid FROM pragma_foreign_key_check(?)"
    try:
        return {row[0] for row in conn.execute(query, (table.name,))}
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise
        return None  # "foreign key mismatch": the keys cannot hold in Postgres either


def _is_unique(table: TableInfo, columns: list[str]) -> bool:
    keys = [table.primary_key] + [i["columns"] for i in table.indexes if i["unique"]]
    return any(set(key) == set(columns) for key in keys if key)


def _fk_problem(table: TableInfo, ref: TableInfo | None, src: list[str], dst: list[str]) -> str:
    if ref is None:
        return "it references a table that is not imported"
    if None in dst:
        dst = ref.primary_key if len(ref.primary_key) == len(src) else []
    src_columns = [table.column(name) for name in src]
    dst_columns = [ref.column(name) for name in dst]
    if not dst or None in src_columns or None in dst_columns:
        return "it references columns that are not imported"
    if not _is_unique(ref, [c.name for c in dst_columns if c]):
        return "the referenced columns are not a primary key or unique"
    types = [
        (a.pg_type, b.pg_type) for a, b in zip(src_columns, dst_columns, strict=True) if a and b
    ]
    if any(a != b for a, b in types):
        return "its columns and the referenced columns have different types"
    return ""


def _read_foreign_keys(
    conn: sqlite3.Connection, table: TableInfo, by_name: dict[str, TableInfo]
) -> list[dict[str, str]]:
    groups: dict[int, tuple[str, list[str], list[str]]] = {}
    query = 'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq'
    for key_id, ref_name, src, dst in conn.execute(query, (table.name,)).fetchall():
        groups.setdefault(key_id, (ref_name, [], []))[1].append(src)
        groups[key_id][2].append(dst)
    violated = _violated_keys(conn, table) if groups else set()
    skipped: list[dict[str, str]] = []
    for key_id, (ref_name, src, dst) in groups.items():
        ref = by_name.get(ref_name.casefold())
        problem = _fk_problem(table, ref, src, dst)
        if not problem and (violated is None or key_id in violated):
            problem = "rows in the file violate it"
        label = f"{table.name}({', '.join(src)}) -> {ref_name}"
        if problem or ref is None:
            skipped.append(_skip(label, "foreign key", problem))
            continue
        ref_columns = dst if None not in dst else ref.primary_key
        table.foreign_keys.append(
            {
                "columns": [c.name for n in src if (c := table.column(n))],
                "ref_table": ref.name,
                "ref_columns": [c.name for n in ref_columns if (c := ref.column(n))],
            }
        )
    return skipped


def read_constraints(conn: sqlite3.Connection, tables: list[TableInfo]) -> list[dict[str, str]]:
    """Primary keys, indexes and foreign keys, once the column types are settled."""
    skipped: list[dict[str, str]] = []
    for table in tables:
        skipped += _read_primary_key(table)
        skipped += _read_indexes(conn, table)
    by_name = {table.name.casefold(): table for table in tables}
    for table in tables:
        skipped += _read_foreign_keys(conn, table, by_name)
    return skipped


def describe(tables: list[TableInfo], skipped: list[dict[str, str]]) -> dict[str, Any]:
    """The ``schema.json`` the parent reads."""
    return {
        "tables": [
            {
                "name": table.name,
                "columns": [
                    {"name": c.name, "pg_type": c.pg_type, "not_null": c.not_null}
                    for c in table.columns
                ],
                "file": table.file,
                "chunks": table.chunks,
                "row_count": table.row_count,
                "primary_key": table.primary_key,
                "indexes": table.indexes,
                "foreign_keys": table.foreign_keys,
            }
            for table in tables
        ],
        "skipped": skipped,
    }
