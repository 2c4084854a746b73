"""The connection lifecycle (contract §4.3) on a second server with short settings.

``short_server`` runs with a connection limit of 2 per database, a 1 s idle timeout and a 2 s
maximum lifetime, all at once; each test keeps clear of the limits it does not test.

When the endpoint cuts a connection it sends a FATAL ErrorResponse, then closes. A client that
is not reading at that moment finds the message on its next query (psycopg 3 then raises the
class of that SQLSTATE) or, depending on timing, only a closed socket; libpq may also hand the
message to the notice processor. Both places are looked at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psycopg
import psycopg2
import pytest

from bitdotio import bitdotio
from tests.drivers.support import Tenant, asyncpg_connect_error, unique_name

pytestmark = pytest.mark.e2e

IDLE_WAIT_S = 2.5  # idle timeout 1 s, with room to spare


@dataclass
class Watched:
    """A psycopg 3 connection and the SQLSTATEs of the notices it received."""

    conn: psycopg.Connection
    notices: list[str | None] = field(default_factory=list)

    @classmethod
    def connect(cls, conninfo: str, *, autocommit: bool = True) -> Watched:
        watched = cls(psycopg.connect(conninfo, autocommit=autocommit))
        watched.conn.add_notice_handler(lambda diag: watched.notices.append(diag.sqlstate))
        return watched

    def cut_sqlstates(self, error: psycopg.Error) -> set[str]:
        """The SQLSTATEs the client saw for the cut, in the error or as notices."""
        return {code for code in [error.sqlstate, *self.notices] if code}


@pytest.fixture(scope="module")
def short_db(short_tenant: Tenant) -> str:
    return short_tenant.create_database()


# --- connection limit (2 per database)


def test_connection_limit_per_database(short_tenant: Tenant) -> None:
    full = short_tenant.create_database(unique_name("limit"))
    other = short_tenant.create_database(unique_name("other"))
    conninfo = short_tenant.conninfo(full)
    held = [psycopg.connect(conninfo, autocommit=True) for _ in range(2)]
    try:
        for conn in held:  # busy just now, far from the 1 s idle timeout
            assert conn.execute("SELECT 1").fetchone() == (1,)
        message = f'too many connections for database "{full}"'
        with pytest.raises(psycopg2.OperationalError) as excinfo:
            psycopg2.connect(conninfo).close()
        assert "too many connections" in str(excinfo.value)
        assert message in str(excinfo.value)
        refused = asyncpg_connect_error(short_tenant.asyncpg_kwargs(full))
        assert isinstance(refused, asyncpg.TooManyConnectionsError)
        assert (refused.sqlstate, refused.message) == ("53300", message)
        # The dotted spelling names the same database, so it counts against the same limit.
        with pytest.raises(psycopg2.OperationalError, match="too many connections"):
            psycopg2.connect(short_tenant.conninfo(full.replace("/", "."))).close()

        # Other databases are unaffected.
        with psycopg.connect(short_tenant.conninfo(other)) as conn:
            assert conn.execute("SELECT 'other'").fetchone() == ("other",)
        # The held connections still work; closing one frees a slot.
        assert held[0].execute("SELECT 2").fetchone() == (2,)
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                with psycopg.connect(conninfo) as conn:
                    assert conn.execute("SELECT 3").fetchone() == (3,)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        for conn in held:
            conn.close()


# --- idle timeout (1 s), idle or idle in a transaction


@dataclass
class Idled:
    idle: Watched
    in_transaction: Watched
    legacy: Any  # a psycopg2 connection


@pytest.fixture(scope="module")
def idled(short_tenant: Tenant) -> Iterator[Idled]:
    """Connections left idle for IDLE_WAIT_S, all waiting at once to keep the suite fast.

    Two databases, as the limit is 2 connections per database. Also checks, at teardown, that
    the SDK's pool replaces its idle connection that the endpoint closed, without an error.
    """
    first, second = short_tenant.create_database(), short_tenant.create_database()
    idle = Watched.connect(short_tenant.conninfo(first))
    in_transaction = Watched.connect(short_tenant.conninfo(first), autocommit=False)
    legacy = psycopg2.connect(short_tenant.conninfo(second))
    srv = short_tenant.server
    sdk = bitdotio(short_tenant.key, api_url=srv.api_url, db_host=srv.db_host, db_port=srv.pg_port)
    try:
        idle.conn.execute("SELECT 1")
        in_transaction.conn.execute("SELECT 1")  # BEGIN was sent: now idle in transaction
        with legacy.cursor() as cur:
            cur.execute("SELECT 1")
        legacy.commit()
        with sdk.pooled_cursor(second) as cur:
            cur.execute("SELECT pg_backend_pid()")
            sdk_pid = cur.fetchone()[0]
        time.sleep(IDLE_WAIT_S)
        yield Idled(idle, in_transaction, legacy)
        with sdk.pooled_cursor(second) as cur:
            cur.execute("SELECT pg_backend_pid()")
            assert cur.fetchone()[0] != sdk_pid
    finally:
        sdk.close()
        legacy.close()
        idle.conn.close()
        in_transaction.conn.close()


def test_idle_connection_is_closed(idled: Idled) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        idled.idle.conn.execute("SELECT 1")
    assert idled.idle.cut_sqlstates(excinfo.value) == {"57P05"}
    assert idled.idle.conn.closed


def test_idle_in_transaction_connection_is_closed(idled: Idled) -> None:
    # 25P03 is SQLSTATE class 25, which DB-API maps to InternalError, not OperationalError.
    with pytest.raises(
        (psycopg.OperationalError, psycopg.errors.IdleInTransactionSessionTimeout)
    ) as excinfo:
        idled.in_transaction.conn.execute("SELECT 1")
    assert idled.in_transaction.cut_sqlstates(excinfo.value) == {"25P03"}
    assert idled.in_transaction.conn.closed


def test_idle_psycopg2_connection_is_closed(idled: Idled) -> None:
    legacy = idled.legacy
    with pytest.raises(psycopg2.OperationalError), legacy.cursor() as cur:
        cur.execute("SELECT 1")
    assert legacy.closed


def test_a_long_query_is_not_cut_by_the_idle_timer(short_tenant: Tenant, short_db: str) -> None:
    with psycopg.connect(short_tenant.conninfo(short_db), autocommit=True) as conn:
        assert conn.execute("SELECT 'done' FROM pg_sleep(2)").fetchone() == ("done",)


def test_a_long_query_in_a_transaction_is_not_cut(short_tenant: Tenant, short_db: str) -> None:
    with psycopg2.connect(short_tenant.conninfo(short_db)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.execute("SELECT 'done' FROM pg_sleep(1.5)")
        assert cur.fetchone() == ("done",)
    conn.close()


# --- maximum lifetime (2 s), enforced at a transaction boundary


def test_lifetime_ends_a_busy_connection(short_tenant: Tenant, short_db: str) -> None:
    watched = Watched.connect(short_tenant.conninfo(short_db))
    try:
        deadline = time.monotonic() + 15
        with pytest.raises(psycopg.OperationalError) as excinfo:
            while time.monotonic() < deadline:
                watched.conn.execute("SELECT 1")
                time.sleep(0.2)
        assert watched.cut_sqlstates(excinfo.value) == {"57P01"}
    finally:
        watched.conn.close()


def test_lifetime_waits_for_the_transaction_to_end(short_tenant: Tenant, short_db: str) -> None:
    watched = Watched.connect(short_tenant.conninfo(short_db), autocommit=False)
    try:
        conn = watched.conn
        conn.execute("CREATE TEMP TABLE life (x integer)")
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < 3:  # past the 2 s lifetime, inside one transaction
            conn.execute("INSERT INTO life VALUES (%s)", [i])
            i += 1
            time.sleep(0.2)
        assert conn.execute("SELECT count(*) FROM life").fetchone() == (i,)
        conn.commit()  # the transaction ends normally...
        with pytest.raises(psycopg.OperationalError) as excinfo:
            conn.execute("SELECT 1")  # ...and the connection is gone after it
        assert watched.cut_sqlstates(excinfo.value) == {"57P01"}
    finally:
        watched.conn.close()
