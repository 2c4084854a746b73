"""psycopg 3 (libpq 17+ bundled) through the endpoint: extended protocol, pipeline, COPY."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import psycopg.errors
import pytest

from tests.drivers.support import Tenant

pytestmark = pytest.mark.e2e


@pytest.fixture
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


def test_queries_with_parameters(conn: psycopg.Connection) -> None:
    assert conn.pgconn.ssl_in_use
    conn.execute("CREATE TABLE pg3_people (name text, age integer)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO pg3_people VALUES (%s, %s)", [("Alice", 45), ("Bob", 84)])
        cur.execute("SELECT name FROM pg3_people WHERE age > %s ORDER BY age", [40])
        assert cur.fetchall() == [("Alice",), ("Bob",)]
        # Binary results and parameters go through too.
        cur.execute("SELECT %b::integer[], %b::text", [[1, 2, 3], "é"], binary=True)
        assert cur.fetchone() == ([1, 2, 3], "é")


def test_transactions(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE pg3_tx (x integer)")
    with conn.transaction():
        conn.execute("INSERT INTO pg3_tx VALUES (1)")
    with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
        conn.execute("INSERT INTO pg3_tx VALUES (2)")
        conn.execute("SELECT 1 / 0")
    with conn.transaction():
        with conn.transaction():  # a savepoint
            conn.execute("INSERT INTO pg3_tx VALUES (3)")
        conn.execute("INSERT INTO pg3_tx VALUES (4)")
    assert conn.execute("SELECT array_agg(x ORDER BY x) FROM pg3_tx").fetchone() == ([1, 3, 4],)


def test_server_side_prepared_statements(conn: psycopg.Connection) -> None:
    """prepare=True makes a named statement (``_pg3_0``) that must live on the same backend."""
    for i in range(3):
        row = conn.execute("SELECT %s::integer * 2", [i], prepare=True).fetchone()
        assert row == (i * 2,)
    names = [r[0] for r in conn.execute("SELECT name FROM pg_prepared_statements").fetchall()]
    assert any(name.startswith("_pg3_") for name in names)
    # SQL-level PREPARE / EXECUTE, across transactions.
    conn.execute("PREPARE pg3_sql (text) AS SELECT upper($1)")
    with conn.transaction():
        assert conn.execute("EXECUTE pg3_sql ('abc')").fetchone() == ("ABC",)
    assert conn.execute("EXECUTE pg3_sql ('def')").fetchone() == ("DEF",)


def test_pipeline_mode(conn: psycopg.Connection) -> None:
    with conn.pipeline(), conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE pg3_pipe (x integer)")
        cur.executemany("INSERT INTO pg3_pipe VALUES (%s)", [(i,) for i in range(50)])
        cur.execute("SELECT sum(x) FROM pg3_pipe")
        assert cur.fetchone() == (1225,)


def test_listen_notify_between_two_connections(dsn: str) -> None:
    with (
        psycopg.connect(dsn, autocommit=True) as listener,
        psycopg.connect(dsn, autocommit=True) as notifier,
    ):
        listener.execute("LISTEN pg3_channel")
        notifier.execute("SELECT pg_notify('pg3_channel', 'hello')")
        notifier.execute("NOTIFY pg3_channel, 'world'")
        received = [
            (note.channel, note.payload) for note in listener.notifies(timeout=10, stop_after=2)
        ]
        assert received == [("pg3_channel", "hello"), ("pg3_channel", "world")]
        # The listener is still a working connection afterwards.
        assert listener.execute("SELECT 1").fetchone() == (1,)


def test_copy_in_and_out(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE pg3_copy (id integer, label text, data bytea)")
    with conn.cursor() as cur:
        with cur.copy("COPY pg3_copy FROM STDIN") as copy:
            for i in range(2000):
                copy.write_row((i, f"label {i}", bytes([i % 256])))
        with cur.copy("COPY pg3_copy FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["integer", "text", "bytea"])
            copy.write_row((2000, "binary", b"\x00\x01"))
        with cur.copy("COPY (SELECT * FROM pg3_copy ORDER BY id) TO STDOUT") as copy:
            copy.set_types(["integer", "text", "bytea"])
            rows = list(copy.rows())
        assert len(rows) == 2001
        assert rows[0] == (0, "label 0", b"\x00")
        assert rows[-1] == (2000, "binary", b"\x00\x01")
        with cur.copy("COPY (SELECT id FROM pg3_copy WHERE id < 3) TO STDOUT (FORMAT csv)") as copy:
            assert b"".join(bytes(block) for block in copy) == b"0\n1\n2\n"
        # An error raised by the client in the middle of COPY FROM sends CopyFail: nothing of
        # that COPY is kept, and the connection goes on.
        with pytest.raises(ValueError), cur.copy("COPY pg3_copy FROM STDIN") as copy:
            copy.write_row((1, "x", b""))
            raise ValueError("client gives up")
    assert conn.execute("SELECT count(*) FROM pg3_copy").fetchone() == (2001,)


def _cancel_pg_sleep(conn: psycopg.Connection, cancel: Callable[[], None]) -> None:
    canceller = threading.Timer(0.5, cancel)
    canceller.start()
    try:
        with pytest.raises(psycopg.errors.QueryCanceled) as excinfo:
            conn.execute("SELECT pg_sleep(30)")
    finally:
        canceller.cancel()
        canceller.join()
    assert excinfo.value.sqlstate == "57014"
    assert "due to user request" in str(excinfo.value)
    assert conn.execute("SELECT 'still usable'").fetchone() == ("still usable",)


def test_cancel_legacy(conn: psycopg.Connection) -> None:
    """``conn.cancel()``: libpq's PQcancel, a CancelRequest on a plain TCP connection."""
    _cancel_pg_sleep(conn, conn.cancel)


def test_cancel_safe(conn: psycopg.Connection) -> None:
    """``conn.cancel_safe()``: libpq 17's PQcancelCreate, which negotiates TLS first."""
    _cancel_pg_sleep(conn, conn.cancel_safe)


def test_cancel_inside_a_transaction(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT 1")
        canceller = threading.Timer(0.5, conn.cancel)
        canceller.start()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("SELECT pg_sleep(30)")
        finally:
            canceller.cancel()
            canceller.join()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_owner_dot_name_and_any_user_name(tenant: Tenant, database: str) -> None:
    dotted = tenant.conninfo(database.replace("/", "."), user="node_sdk")
    with psycopg.connect(dotted) as conn:
        assert conn.execute("SELECT 'dot'").fetchone() == ("dot",)
    for user in ("go-bitdotio-sdk0.0.0b", tenant.username, "x"):
        with psycopg.connect(tenant.conninfo(database, user=user)) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_startup_parameters_are_accepted(tenant: Tenant, database: str) -> None:
    """psql, JDBC and ORMs send more startup parameters (contract §4.1)."""
    with psycopg.connect(
        tenant.conninfo(database),
        application_name="drivers-test",
        options="-c statement_timeout=12345 -c DateStyle=German",
    ) as conn:
        row = conn.execute(
            "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
            " current_setting('DateStyle')"
        ).fetchone()
        assert row == ("drivers-test", "12345ms", "German, DMY")
        assert conn.info.parameter_status("application_name") == "drivers-test"
        assert conn.info.backend_pid > 0
