"""Pools per database: reuse, health check, idle eviction, caps and close (contract §5.6 4-6).

The connections are small fakes of the psycopg2 connection surface the pool touches; psycopg2
itself supplies the exception classes.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import psycopg2
import psycopg2.pool
import pytest

from bitdotio import bitdotio
from bitdotio.sdk._pools import (
    IDLE_CAP,
    MAX_IDLE_S,
    ConnectionPool,
    DatabasePools,
    build_dsn,
    import_psycopg2,
)


class FakeCursor:
    def __init__(self, conn: FakeConnection) -> None:
        self._conn = conn

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str) -> None:
        if self._conn.server_gone:
            self._conn.closed = 2
            raise psycopg2.OperationalError("SSL connection has been closed unexpectedly")
        self._conn.executed.append((sql, self._conn.autocommit))


class FakeInfo:
    def __init__(self) -> None:
        self.transaction_status = 0


class FakeConnection:
    def __init__(self) -> None:
        self.closed = 0
        self.autocommit = False
        self.info = FakeInfo()
        self.server_gone = False
        self.executed: list[tuple[str, bool]] = []
        self.rollbacks = 0
        self.commits = 0

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def rollback(self) -> None:
        self.rollbacks += 1
        self.info.transaction_status = 0

    def close(self) -> None:
        self.closed = 1

    def commit(self) -> None:
        self.commits += 1

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        # psycopg2's connection context: commit on success, roll back on an exception.
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(min_conn: int = 0, max_conn: int = 100) -> tuple[ConnectionPool, list[Any], Clock]:
    opened: list[FakeConnection] = []
    clock = Clock()

    def connect() -> FakeConnection:
        opened.append(FakeConnection())
        return opened[-1]

    return ConnectionPool(connect, min_conn, max_conn, clock=clock), opened, clock


def test_min_conn_zero_still_reuses() -> None:
    pool, opened, _ = make_pool()
    first = pool.getconn()
    pool.putconn(first)
    assert pool.getconn() is first
    assert len(opened) == 1


def test_reuse_is_health_checked_without_leaving_a_transaction() -> None:
    pool, _, _ = make_pool()
    conn = pool.getconn()
    pool.putconn(conn)
    pool.getconn()
    assert conn.executed == [("SELECT 1", True)]
    assert conn.autocommit is False


def test_a_connection_the_server_dropped_is_replaced() -> None:
    pool, opened, _ = make_pool()
    dead = pool.getconn()
    pool.putconn(dead)
    dead.server_gone = True
    fresh = pool.getconn()
    assert fresh is not dead
    assert dead.closed
    assert len(opened) == 2


def test_idle_connections_are_evicted_before_the_server_cut() -> None:
    pool, _, clock = make_pool()
    old = pool.getconn()
    pool.putconn(old)
    clock.now += MAX_IDLE_S + 1
    assert pool.getconn() is not old
    assert old.closed == 1
    assert old.executed == []


def test_idle_cap_with_min_conn_zero() -> None:
    pool, _, _ = make_pool()
    conns = [pool.getconn() for _ in range(IDLE_CAP + 2)]
    for conn in conns:
        pool.putconn(conn)
    assert [conn.closed for conn in conns] == [0] * IDLE_CAP + [1, 1]


def test_min_conn_raises_the_idle_cap() -> None:
    pool, _, _ = make_pool(min_conn=IDLE_CAP + 2)
    conns = [pool.getconn() for _ in range(IDLE_CAP + 2)]
    for conn in conns:
        pool.putconn(conn)
    assert not any(conn.closed for conn in conns)


def test_exhaustion_raises_at_once() -> None:
    pool, _, _ = make_pool(max_conn=1)
    pool.getconn()
    with pytest.raises(psycopg2.pool.PoolError, match="connection pool exhausted"):
        pool.getconn()


def test_a_returned_transaction_is_rolled_back() -> None:
    pool, _, _ = make_pool()
    conn = pool.getconn()
    conn.info.transaction_status = 2
    pool.putconn(conn)
    assert conn.rollbacks == 1
    assert pool.getconn() is conn


@pytest.mark.parametrize("status", [1, 4])
def test_a_connection_in_an_unknown_state_is_closed(status: int) -> None:
    pool, _, _ = make_pool()
    conn = pool.getconn()
    conn.info.transaction_status = status
    pool.putconn(conn)
    assert conn.closed == 1


def test_close_closes_idle_and_checked_out_connections() -> None:
    pool, _, _ = make_pool()
    idle, used = pool.getconn(), pool.getconn()
    pool.putconn(idle)
    pool.close()
    assert idle.closed and used.closed
    with pytest.raises(psycopg2.pool.PoolError):
        pool.getconn()


def test_database_pools_create_one_pool_per_name_under_a_lock() -> None:
    pools = DatabasePools(lambda name: f"dbname={name}", 0, 10)
    barrier = threading.Barrier(8)
    seen: list[ConnectionPool] = []

    def get() -> None:
        barrier.wait()
        seen.append(pools.get("alice/db"))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(pool) for pool in seen}) == 1
    assert pools.get("alice/other") is not seen[0]
    pools.close()
    assert pools.get("alice/db") is not seen[0]


def test_dsn_values_are_quoted() -> None:
    dsn = build_dsn("alice/my db", "v2_k'\\x", "db.example", 5433)
    assert dsn == (
        "dbname='alice/my db' user='api_user' password='v2_k\\'\\\\x' host='db.example' "
        "port='5433' sslmode='require'"
    )
    assert psycopg2.extensions.parse_dsn(dsn) == {
        "dbname": "alice/my db",
        "user": "api_user",
        "password": "v2_k'\\x",
        "host": "db.example",
        "port": "5433",
        "sslmode": "require",
    }


def test_missing_psycopg2_prints_the_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(ImportError):
        import_psycopg2()
    assert "It looks like we couldn't import the psycopg2 library!" in capsys.readouterr().err


def test_pooled_cursor_commits_rolls_back_and_returns_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsns: list[str] = []
    conns: list[FakeConnection] = []

    def connect(dsn: str) -> FakeConnection:
        dsns.append(dsn)
        conns.append(FakeConnection())
        return conns[-1]

    monkeypatch.setattr(psycopg2, "connect", connect)
    sdk = bitdotio("v2_abc", db_host="h", db_port=1)
    with sdk.pooled_cursor("alice/db") as cursor:
        cursor.execute("INSERT 1")
    with pytest.raises(RuntimeError), sdk.pooled_connection("alice/db"):
        raise RuntimeError("rolled back")
    assert len(conns) == 1
    assert (conns[0].commits, conns[0].rollbacks) == (1, 1)
    assert dsns == [build_dsn("alice/db", "v2_abc", "h", 1)]
    sdk.close()
    assert conns[0].closed
