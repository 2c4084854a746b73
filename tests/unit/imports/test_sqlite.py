"""The SQLite reader: schema, keys, type fallback, and a hostile file (security.md §4.5)."""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path

import pytest

from bitdotio.imports._sqlite_child import open_hardened
from bitdotio.imports._sqlite_types import pg_type_for_declared
from bitdotio.imports.source import (
    ForeignKey,
    ImportFailure,
    ImportLimits,
    Index,
    Skipped,
    TableSource,
)
from bitdotio.imports.sqlite import read_sqlite

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
LIMITS = ImportLimits(sqlite_timeout_s=10)


def make_db(path: Path, script: str, *params: object) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
        if params:
            conn.execute("INSERT INTO t VALUES (?)", params)
    conn.close()
    return path


def payload(table: TableSource) -> str:
    return b"".join(table.batches()).decode()


def test_tables_keys_and_indexes() -> None:
    parsed = read_sqlite(DATA / "shop.sqlite", limits=LIMITS)
    assert parsed.format == "sqlite"
    assert [t.name for t in parsed.tables] == ["authors", "books", "Order Lines"]
    authors, books, lines = parsed.tables
    assert authors.primary_key == ("id",)
    assert [c.not_null for c in authors.columns] == [False, True, False]
    assert books.indexes == [
        Index("books_title_key", ("title",), unique=True),
        Index("books_author", ("author_id",)),
    ]
    assert books.foreign_keys == [ForeignKey(("author_id",), "authors", ("id",))]
    assert lines.foreign_keys == [ForeignKey(("Book ID",), "books", ("id",))]
    assert lines.row_origin(2) == {"table": "Order Lines", "row": 2}
    assert [t.row_count for t in parsed.tables] == [3, 3, 3]


def test_views_triggers_checks_and_odd_indexes_are_skipped() -> None:
    parsed = read_sqlite(DATA / "shop.sqlite", limits=LIMITS)
    assert {(s.name, s.kind) for s in parsed.skipped} == {
        ("authors", "check"),
        ("cheap_books", "view"),
        ("books_touch", "trigger"),
        ("books_lower_title", "index"),
        ("books_cheap", "index"),
        ("Order Lines(coupon) -> coupons", "foreign key"),
    }


def test_a_value_that_does_not_fit_makes_the_column_text() -> None:
    lines = read_sqlite(DATA / "shop.sqlite", limits=LIMITS).tables[2]
    assert [(c.name, c.pg_type) for c in lines.columns][2] == ("code", "text")
    assert payload(lines) == "1,2,100,\n2,1,abc,\n,5,7,\n"


def test_blob_and_boolean_payload() -> None:
    books = read_sqlite(DATA / "shop.sqlite", limits=LIMITS).tables[1]
    first, _, third = payload(books).splitlines()
    assert first == '1,1,Notes on the Engine,12.5,4.5,true,2024-01-02 03:04:05,"\\x00ff10",7'
    assert third == '3,1,Poems,,3.0,,,"\\x",'


def test_hostile_file_is_read_without_its_generated_column_or_view() -> None:
    started = time.monotonic()
    parsed = read_sqlite(DATA / "hostile.sqlite", limits=LIMITS)
    assert time.monotonic() - started < 5
    assert [c.name for c in parsed.tables[0].columns] == ["id"]
    assert payload(parsed.tables[0]) == "1\n2\n"
    assert Skipped("t.b", "column", "generated columns are skipped") in parsed.skipped
    assert ("v", "view") in {(s.name, s.kind) for s in parsed.skipped}


def test_hardened_connection_stops_huge_values_and_endless_queries() -> None:
    conn = open_hardened(DATA / "hostile.sqlite", 10_000_000, time.monotonic() + 0.5)
    try:
        with pytest.raises(sqlite3.DataError, match="too big"):
            conn.execute("SELECT length(b) FROM t").fetchall()
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            conn.execute("SELECT count(*) FROM v").fetchall()
        assert time.monotonic() - started < 2
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("CREATE TABLE x (a)")  # read-only
    finally:
        conn.close()


def test_truncated_file_is_corrupt(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.sqlite"
    truncated.write_bytes((DATA / "shop.sqlite").read_bytes()[:8192])
    with pytest.raises(ImportFailure) as failure:
        read_sqlite(truncated, limits=LIMITS)
    assert failure.value.error_type == "CorruptFile"
    assert "truncated" in failure.value.message


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 10])
def test_other_files_are_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    with pytest.raises(ImportFailure) as failure:
        read_sqlite(path, limits=LIMITS)
    assert failure.value.error_type == "CorruptFile"


def test_field_size_limit(tmp_path: Path) -> None:
    path = make_db(tmp_path / "big.sqlite", "CREATE TABLE t (a TEXT);", "x" * 1000)
    with pytest.raises(ImportFailure) as failure:
        read_sqlite(path, limits=ImportLimits(max_field_bytes=500))
    assert (failure.value.error_type, failure.value.details) == ("TooLarge", {"table": "t"})


def test_column_limit(tmp_path: Path) -> None:
    path = make_db(tmp_path / "wide.sqlite", "CREATE TABLE t (a, b, c);")
    with pytest.raises(ImportFailure) as failure:
        read_sqlite(path, limits=ImportLimits(max_columns=2))
    assert failure.value.error_type == "TooManyColumns"


@pytest.mark.parametrize(
    ("value", "error_type"),
    [("a\x00b", "InvalidValue"), (b"\xff", "EncodingError")],
)
def test_text_postgres_cannot_hold(tmp_path: Path, value: object, error_type: str) -> None:
    script = "CREATE TABLE t (a TEXT);"
    path = make_db(tmp_path / "bad.sqlite", script)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO t VALUES (CAST(? AS TEXT))", (value,))
    conn.close()
    with pytest.raises(ImportFailure) as failure:
        read_sqlite(path, limits=LIMITS)
    assert failure.value.error_type == error_type


def test_foreign_keys_postgres_would_reject_are_skipped(tmp_path: Path) -> None:
    script = """
        CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT);
        CREATE TABLE c (p_id INTEGER REFERENCES p(id), code TEXT REFERENCES p(code));
        INSERT INTO p VALUES (1, 'a');
        INSERT INTO c VALUES (2, 'a');
    """
    parsed = read_sqlite(make_db(tmp_path / "fk.sqlite", script), limits=LIMITS)
    assert parsed.tables[1].foreign_keys == []
    assert {s.reason for s in parsed.skipped if s.kind == "foreign key"} == {
        "rows in the file violate it",
        "the referenced columns are not a primary key or unique",
    }


def test_untyped_columns_take_the_type_of_their_values(tmp_path: Path) -> None:
    script = """
        CREATE TABLE t (a, b, c, d, e);
        INSERT INTO t VALUES (1, 1.5, 'x', x'01', 1), (2, 2, 'y', x'02', 'z');
    """
    parsed = read_sqlite(make_db(tmp_path / "u.sqlite", script), limits=LIMITS)
    types = [c.pg_type for c in parsed.tables[0].columns]
    assert types == ["bigint", "double precision", "text", "bytea", "text"]


def test_large_table_streams_in_row_aligned_chunks(tmp_path: Path) -> None:
    path = make_db(tmp_path / "many.sqlite", "CREATE TABLE t (n INTEGER, s TEXT);")
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", ((n, "x" * 90) for n in range(30_000)))
    conn.close()
    table = read_sqlite(path, limits=LIMITS).tables[0]
    chunks = list(table.batches())
    assert len(chunks) > 1
    assert all(c.endswith(b"\n") and len(c) < 1024**2 + 200 for c in chunks)
    assert sum(c.count(b"\n") for c in chunks) == table.row_count == 30_000


def test_scratch_directory_goes_with_the_tables(tmp_path: Path) -> None:
    parsed = read_sqlite(DATA / "shop.sqlite", limits=ImportLimits(scratch_dir=str(tmp_path)))
    assert list(tmp_path.iterdir())
    del parsed
    gc.collect()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("declared", "pg_type"),
    [
        ("INTEGER", "bigint"),
        ("tinyint(1)", "bigint"),
        ("VARCHAR(10)", "text"),
        ("CLOB", "text"),
        ("BLOB", "bytea"),
        ("DOUBLE PRECISION", "double precision"),
        ("FLOAT", "double precision"),
        ("DECIMAL(10,2)", "numeric"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("DATETIME", "timestamp"),
        ("TIMESTAMP", "timestamp"),
        ("JSON", "text"),
        ("", ""),
    ],
)
def test_declared_types(declared: str, pg_type: str) -> None:
    assert pg_type_for_declared(declared) == pg_type
