"""Rules of the endpoint a client can observe: whose role it runs as, what stays hidden,
revocation, other users' databases, and the graceful shutdown."""

from __future__ import annotations

import shutil
import signal
import time

import psycopg
import pytest
import requests

from tests.conftest import make_data_dir
from tests.drivers.support import Tenant, unique_name
from tests.e2e.conftest import Server, free_port


def test_runs_as_the_callers_own_role(tenant: Tenant, server: Server, dsn: str) -> None:
    other_name = unique_name("rule")
    other = Tenant(server, other_name, server.create_user(other_name))
    other_db = other.create_database()
    with psycopg.connect(dsn) as mine, psycopg.connect(other.conninfo(other_db)) as theirs:
        my_role = mine.execute("SELECT current_user, session_user").fetchone()
        their_role = theirs.execute("SELECT current_user, session_user").fetchone()
    assert my_role is not None and their_role is not None
    # logged in as the caller's own role, acting as the database's owner group
    assert my_role[0].endswith("_owner") and my_role[1].startswith("u_")
    assert their_role[0] != my_role[0] and their_role[1] != my_role[1]


def test_backend_key_is_never_shown(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        real = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert real is not None
        assert conn.info.backend_pid != real[0]


def test_revoked_key_fails_on_the_next_connection(tenant: Tenant, server: Server) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}"}
    minted = requests.post(f"{server.api_url}/api-key/", headers=headers, timeout=30)
    assert minted.status_code == 201, minted.text
    key = minted.json()["api_key"]
    database = tenant.create_database()
    with psycopg.connect(tenant.conninfo(database, key=key)) as conn:
        conn.execute("SELECT 1")
    revoked = requests.delete(
        f"{server.api_url}/api-key/", params={"api_key": key}, headers=headers, timeout=30
    )
    assert revoked.status_code < 300, revoked.text
    # psycopg has no sqlstate for connection failures; the SQLSTATEs are checked on the raw
    # protocol in test_hardening.py.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(tenant.conninfo(database, key=key))


def test_other_users_databases(tenant: Tenant, server: Server) -> None:
    other_name = unique_name("rule")
    other = Tenant(server, other_name, server.create_user(other_name))
    private = other.create_database(is_private=True)
    public = other.create_database(is_private=False)
    with pytest.raises(psycopg.OperationalError) as hidden:
        psycopg.connect(tenant.conninfo(private))
    with pytest.raises(psycopg.OperationalError) as missing:
        psycopg.connect(tenant.conninfo(f"{other_name}/nothing_here"))
    assert "does not exist" in str(missing.value)
    assert str(hidden.value).replace(private, "X") == str(missing.value).replace(
        f"{other_name}/nothing_here", "X"
    )
    with psycopg.connect(other.conninfo(public)) as conn:
        conn.execute("CREATE TABLE shown AS SELECT 1 AS x")
    # Anyone may read a public database; nobody but its collaborators may change it.
    with psycopg.connect(tenant.conninfo(public)) as conn:
        assert conn.execute("SELECT x FROM shown").fetchall() == [(1,)]
        assert conn.execute("SELECT current_user").fetchone()[0].endswith("_read")  # type: ignore[index]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO shown VALUES (2)")


def test_shutdown_lets_open_transactions_finish() -> None:
    srv = Server(
        make_data_dir("bitio-drivers-"),
        free_port(),
        free_port(),
        env={"BITIO_PROXY_SHUTDOWN_GRACE_S": "20"},
    )
    srv.start()
    try:
        tenant = Tenant(srv, srv.admin_username, srv.admin_key)
        database = tenant.create_database()
        with psycopg.connect(tenant.conninfo(database), autocommit=True) as setup:
            setup.execute("CREATE TABLE kept (x int)")
        idle = psycopg.connect(tenant.conninfo(database), autocommit=True)
        busy = psycopg.connect(tenant.conninfo(database))
        busy.execute("INSERT INTO kept VALUES (1)")  # a transaction is open
        assert srv.process is not None
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        # The idle connection was closed at once, the open transaction still runs.
        with pytest.raises(psycopg.OperationalError) as info:
            idle.execute("SELECT 1")
        assert info.value.sqlstate in (None, "57P01")
        busy.execute("INSERT INTO kept VALUES (2)")
        busy.commit()
        with pytest.raises(psycopg.OperationalError):
            busy.execute("SELECT 1")
        assert srv.process.wait(timeout=30) == 0, "bit serve did not exit cleanly"
        assert srv.process.stdout is not None
        srv.process.stdout.close()
        idle.close()
        busy.close()
        # The committed rows survived the shutdown.
        srv.start()
        with psycopg.connect(tenant.conninfo(database)) as check:
            assert check.execute("SELECT count(*) FROM kept").fetchone() == (2,)
    finally:
        if srv.process and srv.process.poll() is None:
            srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
