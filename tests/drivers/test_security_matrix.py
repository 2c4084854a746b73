# ruff: noqa: E501  (the tables read best one row per line)
"""The security suite: each row is an attempt that must fail with a clear error and change
nothing, tried over ``/v2beta/query`` and over the Postgres endpoint; then the positive rows,
each role doing exactly what it should (security.md §1, issue "Access model")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

from tests.drivers.support import Tenant, unique_name
from tests.e2e.conftest import Server


@dataclass
class World:
    alice: Tenant  # owns `private` (table secret) and `public` (table pub)
    bob: Tenant  # another user, no role anywhere here
    carol: Tenant  # READER on private
    dave: Tenant  # WRITER on private
    private: str
    public: str
    other: str  # another private database of alice's, outside the service account's scope
    physical: str  # the private database's Postgres name
    keys: dict[str, str]  # read_only, service_account, revoked, expired (alice's)


def _api(server: Server, key: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        f"{server.api_url}{path}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        **kwargs,
    )


def _user(server: Server, prefix: str) -> Tenant:
    name = unique_name(prefix)
    return Tenant(server, name, server.create_user(name))


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    alice, bob, carol, dave = (_user(server, p) for p in ("alice", "bob", "carol", "dave"))
    private = alice.create_database()
    public = alice.create_database(is_private=False)
    other = alice.create_database()
    with psycopg.connect(alice.conninfo(private), autocommit=True) as conn:
        conn.execute("CREATE TABLE secret (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO secret VALUES (1, 'one'), (2, 'two')")
        physical = str(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
    with psycopg.connect(alice.conninfo(public), autocommit=True) as conn:
        conn.execute("CREATE TABLE pub (id int)")
        conn.execute("INSERT INTO pub VALUES (1)")
    for who, role in ((carol, "READER"), (dave, "WRITER")):
        shared = _api(
            server,
            alice.key,
            "PUT",
            f"/db/{private}/collaborators/{who.username}",
            json={"role": role},
        )
        assert shared.status_code == 200, shared.text
    keys = {
        "read_only": _api(server, alice.key, "POST", "/api-key/", json={"read_only": True}),
        "revoked": _api(server, alice.key, "POST", "/api-key/"),
        "expired": _api(server, alice.key, "POST", "/api-key/", json={"expires_in_s": 1}),
    }
    account = _api(
        server,
        alice.key,
        "POST",
        "/service-account/",
        json={"name": "matrix-bot", "role": "READER", "databases": [private]},
    ).json()
    keys["service_account"] = _api(
        server, alice.key, "POST", f"/service-account/{account['id']}/api-key/"
    )
    minted = {name: response.json()["api_key"] for name, response in keys.items()}
    revoked = _api(server, alice.key, "DELETE", "/api-key/", params={"api_key": minted["revoked"]})
    assert revoked.status_code == 200
    time.sleep(1.2)  # the expired key's second passes
    yield World(alice, bob, carol, dave, private, public, other, physical, minted)


def _state(world: World) -> tuple[Any, ...]:
    """What must never change: rows, tables, roles, the database's ACL and limits."""
    with psycopg.connect(world.alice.conninfo(world.private), autocommit=True) as conn:
        secret = conn.execute("SELECT * FROM secret ORDER BY id").fetchall()
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        database = conn.execute(
            "SELECT datacl::text, datconnlimit FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        roles = conn.execute("SELECT count(*) FROM pg_roles").fetchone()
        large_objects = conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    with psycopg.connect(world.alice.conninfo(world.public), autocommit=True) as conn:
        pub = conn.execute("SELECT * FROM pub ORDER BY id").fetchall()
    return secret, tables, database, roles, large_objects, pub


@dataclass(frozen=True)
class Attempt:
    name: str
    who: str  # alice, bob, carol, dave, or a key of alice's: read_only, service_account...
    database: str  # private, public, other, or a literal name
    statements: tuple[str, ...]  # earlier ones set the session up; the last must fail
    http: bool = True  # also over /v2beta/query (the last statement alone)


DENIED = [
    Attempt("read another user's private database", "bob", "private", ("SELECT * FROM secret",)),
    Attempt("write another user's private database", "bob", "private", ("DELETE FROM secret",)),
    Attempt("write a public database as a non-collaborator", "bob", "public", ("INSERT INTO pub VALUES (2)",)),
    Attempt("DDL on a public database as a non-collaborator", "bob", "public", ("DROP TABLE pub",)),
    Attempt("DDL as READER", "carol", "private", ("CREATE TABLE r (x int)",)),
    Attempt("write as READER", "carol", "private", ("UPDATE secret SET v = 'x'",)),
    Attempt("DDL as WRITER: create", "dave", "private", ("CREATE TABLE w (x int)",)),
    Attempt("DDL as WRITER: alter", "dave", "private", ("ALTER TABLE secret ADD COLUMN w int",)),
    Attempt("DDL as WRITER: drop", "dave", "private", ("DROP TABLE secret",)),
    Attempt("SET ROLE to the owner group", "carol", "private", ("SET ROLE {physical}_owner",)),
    Attempt("SET ROLE NONE, then write", "carol", "private", ("SET ROLE NONE", "DELETE FROM secret"), http=False),
    Attempt("RESET ROLE, then write", "carol", "private", ("RESET ROLE", "DELETE FROM secret"), http=False),
    Attempt("SET ROLE NONE, then DDL as WRITER", "dave", "private", ("SET ROLE NONE", "DROP TABLE secret"), http=False),
    Attempt("SET SESSION AUTHORIZATION", "carol", "private", ("SET SESSION AUTHORIZATION {physical}_owner",)),
    Attempt("set_config('role')", "carol", "private", ("SELECT set_config('role', '{physical}_owner', false)",)),
    Attempt("CREATE DATABASE", "alice", "private", ("CREATE DATABASE mine",)),
    Attempt("CREATE ROLE", "alice", "private", ("CREATE ROLE mine",)),
    Attempt("ALTER SYSTEM", "alice", "private", ("ALTER SYSTEM SET work_mem = '1GB'",)),
    Attempt("COPY TO PROGRAM", "alice", "private", ("COPY secret TO PROGRAM 'id'",)),
    Attempt("COPY FROM PROGRAM", "alice", "private", ("COPY secret FROM PROGRAM 'echo 9,x'",)),
    Attempt("COPY to a server file", "alice", "private", ("COPY secret TO '/tmp/bitio-leak'",)),
    Attempt("COPY from a server file", "alice", "private", ("COPY secret FROM '/etc/hostname'",)),
    Attempt("pg_read_file", "alice", "private", ("SELECT pg_read_file('/etc/passwd')",)),
    Attempt("pg_ls_dir", "alice", "private", ("SELECT pg_ls_dir('.')",)),
    Attempt("server-side lo_import", "alice", "private", ("SELECT lo_import('/etc/passwd')",)),
    Attempt("read pg_authid", "alice", "private", ("SELECT rolpassword FROM pg_authid",)),
    Attempt("untrusted extension: dblink", "alice", "private", ("CREATE EXTENSION dblink",)),
    Attempt("untrusted extension: file_fdw", "alice", "private", ("CREATE EXTENSION file_fdw",)),
    Attempt("ALTER DATABASE connection limit", "alice", "private", ('ALTER DATABASE "{physical}" CONNECTION LIMIT 1',)),
    Attempt("DROP DATABASE", "alice", "private", ('DROP DATABASE "{physical}"',)),
    Attempt("TEMP table as READER", "carol", "private", ("CREATE TEMP TABLE t (x int)",)),
    Attempt("large object as READER", "carol", "private", ("SELECT lo_from_bytea(0, 'x')",)),
    Attempt("large object as READER: lo_create", "carol", "private", ("SELECT lo_create(0)",)),
    Attempt("service account outside its scope", "service_account", "other", ("SELECT 1",)),
    Attempt("service account on a public database", "service_account", "public", ("SELECT * FROM pub",)),
    Attempt("service account writing as READER", "service_account", "private", ("DELETE FROM secret",)),
    Attempt("revoked key", "revoked", "private", ("DELETE FROM secret",)),
    Attempt("expired key", "expired", "private", ("DELETE FROM secret",)),
    Attempt("read-only key writing", "read_only", "private", ("DELETE FROM secret",)),
    Attempt("read-only key, SET ROLE NONE, then writing", "read_only", "private", ("SET ROLE NONE", "DELETE FROM secret"), http=False),
    Attempt("read-only key: DDL", "read_only", "private", ("DROP TABLE secret",)),
    Attempt("the catalog database", "alice", "bitio_catalog", ("SELECT 1",)),
    Attempt("the postgres database", "alice", "postgres", ("SELECT 1",)),
    Attempt("template1", "alice", "template1", ("SELECT 1",)),
    Attempt("a name that injects SQL", "alice", '{alice}/x"; DROP TABLE secret; --', ("SELECT 1",)),
    Attempt("a name with path segments", "alice", "{alice}/../{bob}/x", ("SELECT 1",)),
    Attempt("a name with an encoded slash", "bob", "{alice}%2F{private_name}", ("SELECT 1",)),
]  # fmt: skip


def _key(world: World, who: str) -> str:
    tenant = getattr(world, who, None)
    return tenant.key if isinstance(tenant, Tenant) else world.keys[who]


def _database(world: World, name: str) -> str:
    if name in ("private", "public", "other"):
        return str(getattr(world, name))
    return name.format(
        alice=world.alice.username,
        bob=world.bob.username,
        private_name=world.private.split("/")[1],
    )


def _statement(world: World, statement: str) -> str:
    return statement.replace("{physical}", world.physical)


@pytest.mark.parametrize("attempt", DENIED, ids=lambda a: a.name)
def test_denied_over_the_endpoint(world: World, attempt: Attempt) -> None:
    before = _state(world)
    conninfo = world.alice.conninfo(
        _database(world, attempt.database), key=_key(world, attempt.who)
    )
    *setup, last = [_statement(world, s) for s in attempt.statements]
    with (
        pytest.raises(psycopg.Error) as failure,
        psycopg.connect(conninfo, autocommit=True) as conn,
    ):
        for statement in setup:
            conn.execute(statement)
        conn.execute(last)
    assert str(failure.value).strip()  # a clear error, in words
    assert _state(world) == before


@pytest.mark.parametrize("attempt", [a for a in DENIED if a.http], ids=lambda a: a.name)
def test_denied_over_http(server: Server, world: World, attempt: Attempt) -> None:
    before = _state(world)
    response = _api(
        server,
        _key(world, attempt.who),
        "POST",
        "/query",
        json={
            "database_name": _database(world, attempt.database),
            "query_string": _statement(world, attempt.statements[-1]),
        },
    )
    assert response.status_code in (400, 401, 403, 404), response.text
    body = response.json()
    assert body.get("message") or body.get("detail")
    assert _state(world) == before


def test_owners_grant_to_public_changes_nothing(world: World) -> None:
    """Without the grant option this is only a warning in Postgres: still nothing granted."""
    before = _state(world)
    with psycopg.connect(world.alice.conninfo(world.private), autocommit=True) as conn:
        conn.execute(f'GRANT CONNECT ON DATABASE "{world.physical}" TO PUBLIC')
    assert _state(world) == before


def test_nobody_sees_another_principals_query_text(server: Server, world: World) -> None:
    marker = f"marker_{unique_name('q')}"
    with psycopg.connect(world.alice.conninfo(world.private), autocommit=True) as conn:
        conn.execute(f"SELECT '{marker}'")  # stays as this session's last query
        look = (
            "SELECT count(*) FROM pg_stat_activity"
            f" WHERE query LIKE '%{marker[:-1]}%' AND pid <> pg_backend_pid()"
        )
        for who, database in ((world.carol, world.private), (world.bob, world.public)):
            with psycopg.connect(who.conninfo(database), autocommit=True) as spy:
                assert spy.execute(look).fetchone() == (0,)
            response = _api(
                server,
                who.key,
                "POST",
                "/query",
                json={"database_name": database, "query_string": look},
            )
            assert response.json()["data"] == [[0]]


POSITIVE = [
    ("alice", "private", "CREATE TABLE IF NOT EXISTS owned (x int)"),
    ("alice", "private", "CREATE TEMP TABLE scratch (x int)"),
    ("dave", "private", "INSERT INTO secret VALUES (100, 'dave') ON CONFLICT DO NOTHING"),
    ("dave", "private", "DELETE FROM secret WHERE id = 100"),
    ("dave", "private", "CREATE TEMP TABLE scratch (x int)"),
    ("carol", "private", "SELECT count(*) FROM secret"),
    ("bob", "public", "SELECT count(*) FROM pub"),
    ("service_account", "private", "SELECT count(*) FROM secret"),
    ("read_only", "private", "SELECT count(*) FROM secret"),
    ("read_only", "public", "SELECT count(*) FROM pub"),
]


@pytest.mark.parametrize(("who", "database", "statement"), POSITIVE, ids=lambda v: str(v)[:40])
def test_each_role_can_do_what_it_should(
    server: Server, world: World, who: str, database: str, statement: str
) -> None:
    conninfo = world.alice.conninfo(_database(world, database), key=_key(world, who))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement)
    response = _api(
        server,
        _key(world, who),
        "POST",
        "/query",
        json={"database_name": _database(world, database), "query_string": statement},
    )
    assert response.status_code == 200, response.text


def test_making_a_database_private_closes_the_connections_that_relied_on_it(
    server: Server, world: World
) -> None:
    public = world.alice.create_database(is_private=False)
    with psycopg.connect(world.bob.conninfo(public), autocommit=True) as conn:
        conn.execute("SELECT 1")
        made_private = _api(
            server, world.alice.key, "PATCH", f"/db/{public}", json={"is_private": True}
        )
        assert made_private.status_code == 200
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(world.bob.conninfo(public))
    with psycopg.connect(world.alice.conninfo(public), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_collaborator_removed_is_disconnected(server: Server, world: World) -> None:
    database = world.alice.create_database()
    _api(
        server,
        world.alice.key,
        "PUT",
        f"/db/{database}/collaborators/{world.bob.username}",
        json={"role": "WRITER"},
    )
    with psycopg.connect(world.bob.conninfo(database), autocommit=True) as conn:
        conn.execute("SELECT 1")
        _api(
            server, world.alice.key, "DELETE", f"/db/{database}/collaborators/{world.bob.username}"
        )
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
