"""jobs/load.py against a real Postgres: parallel staging, publish, failures that leave
nothing, and the transaction id a retry asks about."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bitdotio.cluster.bootstrap import Cluster
from bitdotio.imports.source import Column, ImportFailure, Parsed, TableSource
from bitdotio.jobs.load import LoadedTable, load


@pytest.fixture
def conninfo(cluster: Cluster) -> Iterator[str]:
    name = f"load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.access.platform(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield cluster.access.platform(name)
    finally:
        with psycopg.connect(cluster.access.platform(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def table(name: str, chunks: list[bytes]) -> TableSource:
    return TableSource(
        name=name,
        columns=[Column("id", "integer"), Column("label", "text")],
        batches=lambda: iter(chunks),
        origin="the test file",
        row_origin=lambda row: {"line": row + 1},  # a header line before the payload
    )


def run(conninfo: str, *tables: TableSource, schema: str = "public") -> tuple[list[Any], list[int]]:
    xids: list[int] = []
    results: list[list[LoadedTable]] = []
    loaded = load(
        conninfo,
        Parsed(format="csv", tables=list(tables)),
        job_id=uuid.uuid4(),
        schema=schema,
        timeout_s=30,
        copy_streams=2,
        on_xid=xids.append,
        before_commit=results.append,
    )
    assert results == [loaded]
    return loaded, xids


def relations(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        cur = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1"
        )
        return [r[0] for r in cur.fetchall()]


def test_a_new_table_is_loaded_by_parallel_streams(conninfo: str) -> None:
    chunks = [b"".join(b"%d,row %d\n" % (i, i) for i in range(n, n + 100)) for n in (0, 100, 200)]
    loaded, xids = run(conninfo, table("t", chunks))
    assert loaded == [LoadedTable("public", "t", 300, created=True)]
    assert relations(conninfo) == ["public.t"]  # no staging table left
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT count(*), sum(id) FROM t").fetchone() == (300, sum(range(300)))
        status = conn.execute("SELECT pg_xact_status(%s::text::xid8)", [str(xids[0])]).fetchone()
        assert status == ("committed",)


def test_a_bad_value_in_a_later_chunk_fails_with_its_line(conninfo: str) -> None:
    chunks = [b"1,a\n2,b\n", b"3,c\n4,d\n", b"5,e\nsix,f\n"]
    with pytest.raises(ImportFailure) as failure:
        run(conninfo, table("t", chunks), schema="fresh")
    assert failure.value.error_type == "InvalidValue"
    # "six" is payload line 6, file line 7 (after the header)
    assert failure.value.details["line"] == 7
    assert failure.value.details["column"] == "id"
    assert "the test file" in failure.value.message
    assert relations(conninfo) == []  # no table, no staging table
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT to_regnamespace('fresh')").fetchone() == (None,)


def test_append_and_create_publish_together_or_not_at_all(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE old (label text, id integer, extra text DEFAULT 'x')")
    loaded, _ = run(conninfo, table("old", [b"1,a\n"]), table("new", [b"2,b\n"]))
    assert [(t.name, t.rows, t.created) for t in loaded] == [("old", 1, False), ("new", 1, True)]
    with pytest.raises(ImportFailure) as failure:
        run(conninfo, table("newer", [b"3,c\n"]), table("old", [b"x,y\n"]))
    assert failure.value.error_type == "InvalidValue"
    assert relations(conninfo) == ["public.new", "public.old"]
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT label, id, extra FROM old").fetchall() == [("a", 1, "x")]


def test_a_reader_failure_mid_stream_leaves_nothing(conninfo: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"1,a\n"
        raise ImportFailure("CorruptFile", "broken in the middle", line=2)

    source = table("t", [])
    source.batches = chunks
    with pytest.raises(ImportFailure) as failure:
        run(conninfo, source)
    assert failure.value.error_type == "CorruptFile"
    assert relations(conninfo) == []


def test_a_stopping_worker_abandons_the_load(conninfo: str) -> None:
    stop = threading.Event()

    def chunks() -> Iterator[bytes]:
        yield b"1,a\n"
        stop.set()  # the worker was told to stop while the file streams
        yield b"2,b\n"
        yield b"3,c\n"

    source = table("t", [])
    source.batches = chunks
    with pytest.raises(ImportFailure) as failure:
        load(
            conninfo,
            Parsed(format="csv", tables=[source]),
            job_id=uuid.uuid4(),
            schema="public",
            timeout_s=30,
            copy_streams=2,
            on_xid=lambda xid: None,
            before_commit=lambda loaded: None,
            stop=stop,
        )
    assert failure.value.error_type == "Interrupted"
    assert relations(conninfo) == []
