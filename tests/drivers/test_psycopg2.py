"""psycopg2 (what the 2.2.1 SDK hands out) through the endpoint."""

from __future__ import annotations

import io
import select
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def conn(dsn: str) -> Iterator[Any]:
    connection = psycopg2.connect(dsn)
    try:
        yield connection
    finally:
        connection.close()


def test_queries_and_transactions(conn: Any) -> None:
    assert conn.info.ssl_in_use
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_people (name text, age integer)")
        cur.executemany("INSERT INTO pg2_people VALUES (%s, %s)", [("Alice", 45), ("Bob", 84)])
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO pg2_people VALUES ('Ghost', 1)")
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT name, age FROM pg2_people WHERE age > %s ORDER BY age", (10,))
        assert cur.fetchall() == [("Alice", 45), ("Bob", 84)]
        cur.execute("SELECT current_user = session_user, current_setting('server_version_num')")
        row = cur.fetchone()
        assert row is not None and int(row[1]) >= 150000
    conn.rollback()


def test_sql_errors_keep_the_connection_usable(conn: Any) -> None:
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute("SELECT * FROM no_such_table")
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_sql_prepare_and_execute_across_transactions(conn: Any) -> None:
    """A named prepared statement lives for the session: the endpoint keeps one backend."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("PREPARE pg2_add (integer, integer) AS SELECT $1 + $2")
        cur.execute("BEGIN")
        cur.execute("EXECUTE pg2_add (40, 2)")
        assert cur.fetchone() == (42,)
        cur.execute("COMMIT")
        cur.execute("EXECUTE pg2_add (1, 2)")
        assert cur.fetchone() == (3,)
        cur.execute("SELECT name FROM pg_prepared_statements")
        assert cur.fetchall() == [("pg2_add",)]
        cur.execute("DEALLOCATE pg2_add")


def test_session_state_survives_transactions(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("SET application_name = 'pg2-session'")
        cur.execute("CREATE TEMP TABLE pg2_tmp AS SELECT 7 AS x")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('application_name'), (SELECT x FROM pg2_tmp)")
        assert cur.fetchone() == ("pg2-session", 7)
    conn.rollback()


def test_listen_notify_between_two_connections(dsn: str) -> None:
    listener = psycopg2.connect(dsn)
    notifier = psycopg2.connect(dsn)
    try:
        listener.autocommit = notifier.autocommit = True
        with listener.cursor() as cur:
            cur.execute("LISTEN pg2_channel")
        with notifier.cursor() as cur:
            cur.execute("SELECT pg_notify('pg2_channel', 'hello')")
            cur.execute("NOTIFY pg2_channel, 'world'")
        received: list[str] = []
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            select.select([listener], [], [], 0.5)
            listener.poll()
            while listener.notifies:
                note = listener.notifies.pop(0)
                assert note.channel == "pg2_channel"
                assert note.pid != listener.get_backend_pid()
                received.append(note.payload)
        assert received == ["hello", "world"]
    finally:
        listener.close()
        notifier.close()


def test_copy_in_and_out(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_copy (id integer, label text)")
        cur.copy_expert(
            "COPY pg2_copy FROM STDIN WITH (FORMAT csv)",
            io.StringIO("".join(f"{i},label {i}\n" for i in range(1000))),
        )
        assert cur.rowcount == 1000
        cur.copy_from(io.StringIO("1000\tlast\n"), "pg2_copy", columns=("id", "label"))
    conn.commit()
    out = io.StringIO()
    with conn.cursor() as cur:
        cur.copy_expert(
            "COPY (SELECT * FROM pg2_copy ORDER BY id) TO STDOUT WITH (FORMAT csv)", out
        )
    lines = out.getvalue().splitlines()
    assert len(lines) == 1001
    assert lines[0] == "0,label 0"
    assert lines[-1] == "1000,last"
    # A failing COPY FROM STDIN is rolled back and the connection stays usable.
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.InvalidTextRepresentation):
        cur.copy_expert("COPY pg2_copy FROM STDIN WITH (FORMAT csv)", io.StringIO("x,y\n"))
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg2_copy")
        assert cur.fetchone() == (1001,)
    conn.rollback()


def test_cancel_from_another_thread(conn: Any) -> None:
    """``conn.cancel()`` sends a CancelRequest on a new (plain) connection to the endpoint."""
    canceller = threading.Timer(0.5, conn.cancel)
    canceller.start()
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.QueryCanceled) as excinfo:
            cur.execute("SELECT pg_sleep(30)")
    finally:
        canceller.cancel()
        canceller.join()
    assert "canceling statement due to user request" in str(excinfo.value)
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT 'still usable'")
        assert cur.fetchone() == ("still usable",)
    conn.rollback()


def test_server_side_cursor(conn: Any) -> None:
    with conn.cursor(name="pg2_named") as cur:
        cur.itersize = 100
        cur.execute("SELECT g FROM generate_series(1, 1000) AS g")
        assert sum(row[0] for row in cur) == 500500
    conn.rollback()


def test_unicode_and_types_round_trip(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT %s::text, %s::numeric, %s::jsonb, %s::bytea",
            ("é ☃ 😀", "1.50", '{"a": [1, 2]}', b"\x00\xff"),
        )
        text, number, document, blob = cur.fetchone()
    assert text == "é ☃ 😀"
    assert str(number) == "1.50"
    assert document == {"a": [1, 2]}
    assert bytes(blob) == b"\x00\xff"
    conn.rollback()
