"""psycopg2 connections and per-database pools (contract §5.5; fixes §5.6 items 4-6).

psycopg2 is imported only here and only when a connection is asked for: the SDK's HTTP
methods work without it. Unlike psycopg2's ``ThreadedConnectionPool``, which 2.2.1 used, these
pools keep a few idle connections even with ``min_conn=0``, drop idle ones before bit.io's
5-minute idle cut, and check a reused connection before handing it out.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

__all__ = [
    "IDLE_CAP",
    "MAX_IDLE_S",
    "ConnectionPool",
    "DatabasePools",
    "build_dsn",
    "import_psycopg2",
]

# Idle connections a pool keeps beyond min_conn; 2.2.1 kept none with min_conn=0 (§5.6 item 5).
IDLE_CAP = 4
# Just under the server's 5-minute idle cut (contract §4.3), as the Go SDK does.
MAX_IDLE_S = 290.0

# psycopg2.extensions.TRANSACTION_STATUS_* values, named here so no import is needed.
_TRANSACTION_IDLE = 0
_TRANSACTION_OPEN = (2, 3)  # INTRANS, INERROR: roll back before reuse

_PSYCOPG2_HINT = """
It looks like we couldn't import the psycopg2 library!

In order to support different environments, we have a few ways to install the bitdotio package
with or without the psycopg2 dependency.

1. If you already have psycopg2 installed, you can install the default bitdotio package:

  pip install bitdotio

2. If you already have Postgres installed, you can install with the psycopg2 dependency:

  pip install bitdotio[psycopg2]

3. If you do not have or cannot install Postgres, you can install with the psycopg2-binary
   dependency:

  pip install bitdotio[psycopg2-binary]
"""


def import_psycopg2() -> ModuleType:
    """psycopg2 with its pool module; when missing, 2.2.1's hint goes to stderr first."""
    try:
        import psycopg2
        import psycopg2.pool
    except ImportError:
        print(_PSYCOPG2_HINT, file=sys.stderr)
        raise
    return psycopg2


def _dsn_value(value: str) -> str:
    # libpq quoting: single quotes around the value, backslash before ' and \ (§5.6 item 9).
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_dsn(db_name: str, api_key: str, host: str, port: int) -> str:
    """The libpq string 2.2.1 used (contract §4.1), with every value quoted."""
    params = {
        "dbname": db_name,
        "user": "api_user",
        "password": api_key,
        "host": host,
        "port": str(port),
        "sslmode": "require",
    }
    return " ".join(f"{key}={_dsn_value(value)}" for key, value in params.items())


class Connection(Protocol):
    """The part of a psycopg2 connection the pool uses."""

    closed: int
    autocommit: bool

    @property
    def info(self) -> Any: ...

    def cursor(self) -> Any: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Connection: ...

    def __exit__(self, *exc_info: object) -> None: ...


class ConnectionPool:
    """A thread-safe pool for one database; checkout never waits, as in psycopg2."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        min_conn: int,
        max_conn: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._max_conn = max_conn
        self._idle_cap = min(max(min_conn, IDLE_CAP), max_conn)
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[tuple[Connection, float]] = []  # (connection, returned at)
        self._used: dict[int, Connection] = {}
        self._opening = 0
        self._closed = False

    def getconn(self) -> Connection:
        """A live connection: a checked idle one (newest first), else a new one."""
        while (conn := self._take_idle()) is not None:
            if _is_alive(conn):
                return conn
            self._forget(conn)
        return self._open()

    def putconn(self, conn: Connection) -> None:
        """Return a connection; kept idle if clean and under the cap, closed otherwise."""
        reusable = _reset(conn)
        with self._lock:
            self._used.pop(id(conn), None)
            keep = reusable and not self._closed and len(self._idle) < self._idle_cap
            if keep:
                self._idle.append((conn, self._clock()))
        if not keep:
            conn.close()

    def close(self) -> None:
        """Close every connection, idle or checked out; later checkouts fail."""
        with self._lock:
            self._closed = True
            conns = [conn for conn, _ in self._idle] + list(self._used.values())
            self._idle.clear()
            self._used.clear()
        for conn in conns:
            conn.close()

    def _take_idle(self) -> Connection | None:
        with self._lock:
            self._raise_if_closed()
            now = self._clock()
            stale = [conn for conn, since in self._idle if now - since > MAX_IDLE_S]
            self._idle = [(conn, since) for conn, since in self._idle if now - since <= MAX_IDLE_S]
            conn = self._idle.pop()[0] if self._idle else None
            if conn is not None:
                self._used[id(conn)] = conn
        for old in stale:
            old.close()
        return conn

    def _open(self) -> Connection:
        with self._lock:
            self._raise_if_closed()
            if len(self._used) + self._opening >= self._max_conn:
                raise import_psycopg2().pool.PoolError("connection pool exhausted")
            self._opening += 1
        # Connect outside the lock: the first connection to a cold database is slow (§4.3).
        try:
            conn = self._connect()
        finally:
            with self._lock:
                self._opening -= 1
        with self._lock:
            self._used[id(conn)] = conn
        return conn

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            self._used.pop(id(conn), None)
        conn.close()

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise import_psycopg2().pool.PoolError("connection pool is closed")


def _is_alive(conn: Connection) -> bool:
    """One ``SELECT 1``, so a connection the server dropped is replaced, not handed out.

    2.2.1 handed it out and the caller got ``InterfaceError: connection already closed``
    (contract §5.6 item 6). Autocommit keeps the probe from opening a transaction.
    """
    if conn.closed:
        return False
    autocommit = conn.autocommit
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    except import_psycopg2().Error:
        return False
    finally:
        if not conn.closed:
            conn.autocommit = autocommit
    return True


def _reset(conn: Connection) -> bool:
    """Roll back a leftover transaction; False when the connection cannot be reused."""
    if conn.closed:
        return False
    status = conn.info.transaction_status
    if status == _TRANSACTION_IDLE:
        return True
    if status not in _TRANSACTION_OPEN:
        return False
    try:
        conn.rollback()
    except import_psycopg2().Error:
        return False
    return True


class DatabasePools:
    """One ``ConnectionPool`` per exact database name, created under a lock (§5.6 item 4)."""

    def __init__(self, dsn_for: Callable[[str], str], min_conn: int, max_conn: int) -> None:
        self._dsn_for = dsn_for
        self._min_conn = min_conn
        self._max_conn = max_conn
        self._lock = threading.Lock()
        self._pools: dict[str, ConnectionPool] = {}

    def get(self, db_name: str) -> ConnectionPool:
        with self._lock:
            pool = self._pools.get(db_name)
            if pool is None:
                psycopg2 = import_psycopg2()
                dsn = self._dsn_for(db_name)
                pool = ConnectionPool(lambda: psycopg2.connect(dsn), self._min_conn, self._max_conn)
                self._pools[db_name] = pool
            return pool

    def close(self) -> None:
        """Close all pools; a later pooled call starts a fresh pool."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
