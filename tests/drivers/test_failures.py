"""Refused connections: ErrorResponse messages with a SQLSTATE (contract §4.2 "Failures").

psycopg2 shows the server's text in ``OperationalError``. psycopg 3 raises a plain
``OperationalError`` for a failed connection attempt, whose ``sqlstate`` is None (libpq keeps no
result for it), so the SQLSTATE is checked with asyncpg, which parses the ErrorResponse itself.
"""

from __future__ import annotations

import psycopg
import psycopg2
import pytest
import requests

from tests.drivers.support import Tenant, asyncpg_connect_error, unique_name

pytestmark = pytest.mark.e2e

AUTH_FAILED = 'password authentication failed for user "api_user"'


# The endpoint refuses every connection from an address after 20 failed logins in a minute
# (docs/reference/postgres-endpoint.md). This module's failed logins therefore go to the second
# server, which no other module logs into wrongly, so the shared ``server`` stays usable.
@pytest.fixture(scope="module")
def tenant(short_tenant: Tenant) -> Tenant:
    return short_tenant


@pytest.fixture(scope="module")
def database(short_tenant: Tenant) -> str:
    return short_tenant.create_database()


def psycopg2_error(conninfo: str) -> str:
    with pytest.raises(psycopg2.OperationalError) as excinfo:
        psycopg2.connect(conninfo).close()
    return str(excinfo.value)


def psycopg3_error(conninfo: str) -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(conninfo).close()
    return excinfo.value


def assert_refused(
    tenant: Tenant, dbname: str, *, key: str | None, sqlstate: str, message: str
) -> None:
    """Each client is refused with ``message`` (FATAL) and asyncpg sees ``sqlstate``."""
    conninfo = tenant.conninfo(dbname, key=key)
    assert f"FATAL:  {message}" in psycopg2_error(conninfo)
    assert message in str(psycopg3_error(conninfo))
    kwargs = tenant.asyncpg_kwargs(dbname)
    if key is not None:
        kwargs["password"] = key
    error = asyncpg_connect_error(kwargs)
    assert (error.sqlstate, error.message, error.severity) == (sqlstate, message, "FATAL")


def test_wrong_key(tenant: Tenant, database: str) -> None:
    wrong = "v2_" + "x" * 28
    assert_refused(tenant, database, key=wrong, sqlstate="28P01", message=AUTH_FAILED)


@pytest.mark.parametrize("malformed", ["not-a-key", "v2_", "v2_has space", "x" * 300])
def test_malformed_key(tenant: Tenant, database: str, malformed: str) -> None:
    conninfo = tenant.conninfo(database, key=f"'{malformed}'")
    assert f"FATAL:  {AUTH_FAILED}" in psycopg2_error(conninfo)
    kwargs = tenant.asyncpg_kwargs(database, password=malformed)
    error = asyncpg_connect_error(kwargs)
    assert (error.sqlstate, error.message) == ("28P01", AUTH_FAILED)


def test_the_user_name_as_sent_is_in_the_message(tenant: Tenant, database: str) -> None:
    conninfo = tenant.conninfo(database, key="v2_wrong", user="node_sdk")
    assert 'password authentication failed for user "node_sdk"' in psycopg2_error(conninfo)


def test_revoked_key_fails_on_the_next_connection(tenant: Tenant, database: str) -> None:
    api = tenant.server.api_url
    created = requests.post(
        f"{api}/api-key/", headers={"Authorization": f"Bearer {tenant.key}"}, timeout=30
    )
    assert created.status_code == 201, created.text
    new_key = created.json()["api_key"]
    with psycopg.connect(tenant.conninfo(database, key=new_key)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    revoked = requests.delete(
        f"{api}/api-key/",
        params={"api_key": new_key},
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    assert f"FATAL:  {AUTH_FAILED}" in psycopg2_error(tenant.conninfo(database, key=new_key))


def test_unknown_database(tenant: Tenant) -> None:
    missing = f"{tenant.username}/{unique_name('nope')}"
    assert_refused(
        tenant,
        missing,
        key=None,
        sqlstate="3D000",
        message=f'database "{missing}" does not exist',
    )


def test_unknown_owner_and_dotted_name(tenant: Tenant) -> None:
    for name in ("nobody_at_all/db", f"{tenant.username}.{unique_name('nope')}", "no-slash"):
        assert_refused(
            tenant, name, key=None, sqlstate="3D000", message=f'database "{name}" does not exist'
        )


def test_another_users_private_database_looks_missing(tenant: Tenant) -> None:
    """Same answer as for a missing database: its existence must not leak."""
    other = Tenant(tenant.server, "admin", tenant.server.admin_key)
    private = other.create_database(is_private=True)
    for name in (private, private.replace("/", ".")):
        assert_refused(
            tenant, name, key=None, sqlstate="3D000", message=f'database "{name}" does not exist'
        )
    # The owner's own key connects.
    with psycopg.connect(other.conninfo(private)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_tls_is_required(tenant: Tenant, database: str) -> None:
    text = psycopg2_error(tenant.conninfo(database, sslmode="disable"))
    assert "SSL" in text and "required" in text, text
    error = asyncpg_connect_error(tenant.asyncpg_kwargs(database, ssl=False))
    assert error.sqlstate == "28000"
    assert "SSL" in error.message


def test_tls_is_used_with_sslmode_prefer(tenant: Tenant, database: str) -> None:
    with psycopg.connect(tenant.conninfo(database, sslmode="prefer")) as conn:
        assert conn.pgconn.ssl_in_use
