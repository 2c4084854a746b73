"""Tenancy rules of security.md §1, replayed against the real cluster as assertions."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bitdotio.cluster.bootstrap import Cluster
from tests.integration.conftest import User


def role_of(cluster: Cluster, user: User) -> str:
    with psycopg.connect(cluster.access.catalog()) as conn:
        row = conn.execute(
            "SELECT role_name FROM users WHERE username = %s", [user.username]
        ).fetchone()
    assert row
    return str(row[0])


def physical_of(cluster: Cluster, name: str) -> str:
    with psycopg.connect(cluster.access.catalog()) as conn:
        row = conn.execute("SELECT physical_name FROM databases WHERE name = %s", [name]).fetchone()
    assert row
    return str(row[0])


@pytest.fixture
def database(client: TestClient, alice: User, db_name: str) -> str:
    assert client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers).is_success
    return db_name


def connect_as(cluster: Cluster, role: str, dbname: str) -> psycopg.Connection:
    """Logged in as ``role`` itself, without acting as a group (what a tenant can do with
    ``SET ROLE NONE``)."""
    conninfo = make_conninfo(cluster.access.tenant(dbname, role, "none"), options="")
    return psycopg.connect(conninfo, autocommit=True)


def test_tenant_roles_are_refused_by_shared_databases(cluster: Cluster, alice: User) -> None:
    role = role_of(cluster, alice)
    for dbname in ("template1", "postgres", cluster.access.catalog_db):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect_as(cluster, role, dbname)


def test_tenant_cannot_connect_to_another_tenants_database(
    cluster: Cluster, bob: User, database: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect_as(cluster, role_of(cluster, bob), physical_of(cluster, database))


def test_login_roles_are_unprivileged_and_passwordless(cluster: Cluster, alice: User) -> None:
    with psycopg.connect(cluster.access.catalog()) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
            " rolpassword IS NULL FROM pg_authid WHERE rolname = %s",
            [role_of(cluster, alice)],
        ).fetchone()
    assert row == (False, False, False, False, False, True)


def test_no_tenant_role_reaches_a_predefined_role(cluster: Cluster, database: str) -> None:
    with psycopg.connect(cluster.access.catalog()) as conn:
        rows = conn.execute(
            "WITH RECURSIVE up(member, roleid) AS ("
            "  SELECT member, roleid FROM pg_auth_members"
            "  UNION SELECT up.member, m.roleid FROM up JOIN pg_auth_members m"
            "  ON m.member = up.roleid)"
            " SELECT r.rolname, g.rolname FROM up JOIN pg_roles r ON r.oid = up.member"
            " JOIN pg_roles g ON g.oid = up.roleid"
            " WHERE (r.rolname LIKE 'u\\_%' OR r.rolname LIKE 'db\\_%') AND g.rolname LIKE 'pg\\_%'"
        ).fetchall()
    assert rows == []


def test_database_is_owned_by_a_memberless_platform_role(
    cluster: Cluster, alice: User, database: str
) -> None:
    physical = physical_of(cluster, database)
    with psycopg.connect(cluster.access.catalog()) as conn:
        owner = conn.execute(
            "SELECT r.rolname, r.rolcanlogin, d.datacl::text FROM pg_database d"
            " JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = %s",
            [physical],
        ).fetchone()
        assert owner is not None
        members = conn.execute(
            "SELECT count(*) FROM pg_auth_members WHERE roleid = %s::regrole", [owner[0]]
        ).fetchone()
    assert owner[0] == f"{physical}_sys" and owner[1] is False
    assert members == (0,)
    assert not [item for item in owner[2].strip("{}").split(",") if item.startswith("=")]


def test_owner_cannot_take_over_the_database(cluster: Cluster, alice: User, database: str) -> None:
    physical = physical_of(cluster, database)
    with connect_as(cluster, role_of(cluster, alice), physical) as conn:
        for stmt in (
            f'ALTER DATABASE "{physical}" CONNECTION LIMIT -1',
            f'ALTER DATABASE "{physical}" SET search_path = public',
            f'DROP DATABASE "{physical}"',
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(stmt)
        # Without the grant option this is only a warning, and nothing is granted.
        conn.execute(f'GRANT CONNECT ON DATABASE "{physical}" TO PUBLIC')
        acl = conn.execute(
            "SELECT datacl::text FROM pg_database WHERE datname = %s", [physical]
        ).fetchone()
        assert acl is not None
        assert not [item for item in acl[0].strip("{}").split(",") if item.startswith("=")]
        conn.execute("CREATE TABLE mine (a int)")  # the tenant's DDL lives in public
        conn.execute("CREATE TEMP TABLE scratch (a int)")  # TEMP through the owner group
        conn.execute("CREATE SCHEMA other")


def test_migration_gives_older_databases_temporary(
    cluster: Cluster, alice: User, database: str
) -> None:
    """0003 re-grants TEMPORARY to owner groups of databases made before it existed."""
    from importlib import resources

    physical = physical_of(cluster, database)
    check = "SELECT has_database_privilege(%s, %s, 'TEMPORARY')"
    migration = (
        resources.files("bitdotio.catalog.migrations") / "0003_temporary_for_owners.sql"
    ).read_text()
    with psycopg.connect(cluster.access.catalog(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(
                sql.Identifier(physical), sql.Identifier(f"{physical}_owner")
            )
        )
        assert conn.execute(check, [f"{physical}_owner", physical]).fetchone() == (False,)
        conn.execute(migration.encode())
        assert conn.execute(check, [f"{physical}_owner", physical]).fetchone() == (True,)
