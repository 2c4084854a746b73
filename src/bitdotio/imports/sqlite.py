"""SQLite files: tables, keys and indexes, read by a capped subprocess (security.md §4.5).

The file is hostile until proven otherwise. This process only checks the header; a child
(``_sqlite_child``) opens the file read-only under RLIMIT_AS and RLIMIT_CPU and writes the
schema and each table's COPY payload into a scratch directory, which ``batches()`` then
streams from disk. The directory goes when the last ``TableSource`` that reads it does.

Tables keep their SQLite names, normalised like any column name; the import's ``table_name``
does not apply to SQLite files (docs/reference/imports.md, "SQLite").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bitdotio.imports._child import Scratch, run, stream
from bitdotio.imports.columns import normalise_names
from bitdotio.imports.source import (
    Column,
    ForeignKey,
    ImportFailure,
    ImportLimits,
    Index,
    Parsed,
    Skipped,
    TableSource,
)

__all__ = ["read_sqlite"]

_MAGIC = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    """The header must be SQLite's, and the page count it declares must fit in the file."""
    size = path.stat().st_size
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise ImportFailure("CorruptFile", "The file is not a SQLite database.")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise ImportFailure("CorruptFile", "The SQLite header has an invalid page size.")
    page_count = int.from_bytes(header[28:32], "big")
    count_is_valid = header[24:28] == header[92:96]  # SQLite's own validity rule
    if count_is_valid and page_count * page_size > size:
        raise ImportFailure(
            "CorruptFile",
            f"The SQLite header declares {page_count * page_size} bytes of pages but the file "
            f"has {size} bytes: it is truncated or forged.",
        )


def _run_child(path: Path, scratch: Scratch, limits: ImportLimits) -> dict[str, Any]:
    child_limits = {
        "max_field_bytes": limits.max_field_bytes,
        "max_columns": limits.max_columns,
        "max_tables": limits.max_tables,
        "timeout_s": limits.sqlite_timeout_s,
    }
    return run(
        "bitdotio.imports._sqlite_child",
        path,
        scratch,
        child_limits,
        memory_bytes=limits.sqlite_max_memory_bytes,
        cpu_s=limits.sqlite_timeout_s + 1,  # the queries' own deadline should fire first
        too_large=ImportFailure("TooLarge", "Reading the SQLite file took too long."),
        unreadable=ImportFailure("CorruptFile", "The SQLite file could not be read."),
    )


def _dependency_order(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Referenced tables first where possible; a cycle keeps the file's order."""
    remaining = {table["name"]: table for table in tables}
    ordered: list[dict[str, Any]] = []
    while remaining:
        ready = [
            table
            for table in remaining.values()
            if all(
                fk["ref_table"] not in remaining or fk["ref_table"] == table["name"]
                for fk in table["foreign_keys"]
            )
        ]
        for table in ready or [next(iter(remaining.values()))]:
            ordered.append(remaining.pop(table["name"]))
    return ordered


def _normalised(names: list[str]) -> dict[str, str]:
    return dict(zip(names, normalise_names(names), strict=True))


class _Names:
    """SQLite names to normalised Postgres names: tables (with index names) and columns."""

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        self.tables = _normalised([table["name"] for table in tables])
        self.columns = {
            table["name"]: _normalised([column["name"] for column in table["columns"]])
            for table in tables
        }

    def of(self, table: str, columns: list[str]) -> tuple[str, ...]:
        return tuple(self.columns[table][column] for column in columns)


def _indexes(tables: list[dict[str, Any]], names: _Names) -> dict[str, list[Index]]:
    """Index names share Postgres's namespace with tables, so normalise them together."""
    wanted: list[tuple[str, dict[str, Any], str]] = []
    for table in tables:
        for index in table["indexes"]:
            columns = names.of(table["name"], index["columns"])
            default = f"{names.tables[table['name']]}_{'_'.join(columns)}_key"
            wanted.append((table["name"], index, index["name"] or default))
    unique = normalise_names([*names.tables.values(), *(name for _, _, name in wanted)])
    result: dict[str, list[Index]] = {table["name"]: [] for table in tables}
    for (table_name, index, _), name in zip(wanted, unique[len(tables) :], strict=True):
        columns = names.of(table_name, index["columns"])
        result[table_name].append(Index(name, columns, unique=index["unique"]))
    return result


def _table_source(
    table: dict[str, Any], names: _Names, indexes: list[Index], scratch: Scratch
) -> TableSource:
    sqlite_name = table["name"]
    file = scratch.path / table["file"]
    chunks: list[int] = table["chunks"]
    return TableSource(
        name=names.tables[sqlite_name],
        columns=[
            Column(names.columns[sqlite_name][c["name"]], c["pg_type"], c["not_null"])
            for c in table["columns"]
        ],
        batches=lambda: stream(file, chunks, scratch),
        origin=f"table {sqlite_name!r}",
        row_origin=lambda row: {"table": sqlite_name, "row": row},
        row_count=table["row_count"],
        primary_key=names.of(sqlite_name, table["primary_key"]),
        indexes=indexes,
        foreign_keys=[
            ForeignKey(
                names.of(sqlite_name, fk["columns"]),
                names.tables[fk["ref_table"]],
                names.of(fk["ref_table"], fk["ref_columns"]),
            )
            for fk in table["foreign_keys"]
        ],
    )


def read_sqlite(path: Path, *, limits: ImportLimits) -> Parsed:
    """Read every ordinary table of a SQLite file; see the module docstring."""
    _check_header(path)
    scratch = Scratch(limits.scratch_dir, "bitio-sqlite-")
    try:
        schema = _run_child(path, scratch, limits)
    except BaseException:
        scratch.remove()
        raise
    tables = _dependency_order(schema["tables"])
    names = _Names(tables)
    indexes = _indexes(tables, names)
    return Parsed(
        format="sqlite",
        tables=[_table_source(t, names, indexes[t["name"]], scratch) for t in tables],
        skipped=[Skipped(**skip) for skip in schema["skipped"]],
    )
