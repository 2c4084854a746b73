"""The access model over the HTTP API: collaborators and their roles, public databases,
read-only keys and service accounts; every right checked by Postgres as well as by us."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import User
from tests.integration.server.test_exports import export


@pytest.fixture
def database(client: TestClient, alice: User, db_name: str) -> str:
    response = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert response.status_code == 201
    name = str(response.json()["name"])
    assert sql(client, alice, name, "CREATE TABLE t (x int)").status_code == 200
    assert sql(client, alice, name, "INSERT INTO t VALUES (1)").status_code == 200
    return name


def sql(client: TestClient, user: User | str, database: str, query: str) -> Any:
    headers = user.headers if isinstance(user, User) else {"Authorization": f"Bearer {user}"}
    return client.post(
        "/v2beta/query", headers=headers, json={"database_name": database, "query_string": query}
    )


def share(client: TestClient, by: User, database: str, username: str, role: str) -> Any:
    return client.put(
        f"/v2beta/db/{database}/collaborators/{username}", json={"role": role}, headers=by.headers
    )


def key(client: TestClient, user: User, **body: Any) -> str:
    response = client.post("/v2beta/api-key/", json=body or None, headers=user.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


@pytest.mark.parametrize(
    ("role", "reads", "writes", "ddl", "updates", "manages"),
    [
        ("READER", True, False, False, False, False),
        ("WRITER", True, True, False, False, False),
        ("ADMIN", True, True, True, True, True),
    ],
)
def test_each_role_can_do_exactly_what_it_should(
    client: TestClient,
    alice: User,
    bob: User,
    make_user: Any,
    database: str,
    role: str,
    reads: bool,
    writes: bool,
    ddl: bool,
    updates: bool,
    manages: bool,
) -> None:
    assert share(client, alice, database, bob.username, role).status_code == 200
    got = client.get(f"/v2beta/db/{database}", headers=bob.headers).json()
    assert got["role"] == role
    assert (sql(client, bob, database, "SELECT x FROM t").status_code == 200) is reads
    assert (sql(client, bob, database, "INSERT INTO t VALUES (2)").status_code == 200) is writes
    assert (sql(client, bob, database, "CREATE TABLE bobs (y int)").status_code == 200) is ddl
    patch = client.patch(f"/v2beta/db/{database}", json={}, headers=bob.headers)
    assert (patch.status_code == 200) is updates
    carol = make_user()
    assert (share(client, bob, database, carol.username, "READER").status_code == 200) is manages
    assert client.delete(f"/v2beta/db/{database}", headers=bob.headers).status_code == 403
    # what a WRITER may not do fails in Postgres too, with Postgres's own words
    if not writes:
        denied = sql(client, bob, database, "DELETE FROM t")
        assert denied.status_code == 403 and denied.json()["error"]["sqlstate"] == "42501"
    # tables made by an admin are the owner group's: everyone with a role reaches them
    if ddl:
        assert sql(client, alice, database, "SELECT * FROM bobs").status_code == 200


def test_collaborators_are_listed_changed_and_removed(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    assert share(client, alice, database, bob.username, "WRITER").json()["role"] == "WRITER"
    listed = client.get(f"/v2beta/db/{database}/collaborators/", headers=alice.headers).json()
    assert [(c["username"], c["role"]) for c in listed["collaborators"]] == [
        (alice.username, "OWNER"),
        (bob.username, "WRITER"),
    ]
    assert share(client, alice, database, bob.username, "READER").json()["role"] == "READER"
    assert sql(client, bob, database, "INSERT INTO t VALUES (3)").status_code == 403
    removed = client.delete(
        f"/v2beta/db/{database}/collaborators/{bob.username}", headers=alice.headers
    )
    assert removed.status_code == 200
    assert sql(client, bob, database, "SELECT 1").status_code == 404
    assert client.get(f"/v2beta/db/{database}", headers=bob.headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [({"role": "owner"}, 422), ({"role": "admin"}, 422), ({}, 422)],
)
def test_bad_roles_are_refused(
    client: TestClient, alice: User, bob: User, database: str, body: dict[str, str], status: int
) -> None:
    response = client.put(
        f"/v2beta/db/{database}/collaborators/{bob.username}", json=body, headers=alice.headers
    )
    assert response.status_code == status


def test_only_the_owner_manages_admins_and_nobody_removes_the_owner(
    client: TestClient, alice: User, bob: User, make_user: Any, database: str
) -> None:
    carol = make_user()
    assert share(client, alice, database, bob.username, "ADMIN").status_code == 200
    assert share(client, bob, database, carol.username, "ADMIN").status_code == 403
    assert share(client, bob, database, carol.username, "WRITER").status_code == 200
    gone = client.delete(
        f"/v2beta/db/{database}/collaborators/{alice.username}", headers=bob.headers
    )
    assert gone.status_code == 400
    assert share(client, bob, database, alice.username, "READER").status_code == 400
    assert share(client, alice, database, "nobody-like-this", "READER").status_code == 404
    # anyone may leave
    left = client.delete(
        f"/v2beta/db/{database}/collaborators/{carol.username}", headers=carol.headers
    )
    assert left.status_code == 200


def test_a_public_database_is_readable_by_everyone_and_writable_by_nobody_else(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    assert sql(client, bob, database, "SELECT x FROM t").status_code == 404
    made_public = client.patch(
        f"/v2beta/db/{database}", json={"is_private": False}, headers=alice.headers
    )
    assert made_public.status_code == 200
    assert sql(client, bob, database, "SELECT x FROM t").json()["data"] == [[1]]
    assert client.get(f"/v2beta/db/{database}", headers=bob.headers).json()["role"] == "READER"
    assert sql(client, bob, database, "INSERT INTO t VALUES (9)").status_code == 403
    assert sql(client, bob, database, "CREATE TABLE mine (y int)").status_code == 403
    job = export(client, bob, database, query_string="SELECT x FROM t")
    assert job["state"] == "DONE", job
    assert client.get(f"/v2beta/export/{job['id']}", headers=alice.headers).status_code == 200
    listed = client.get(f"/v2beta/db/{database}/collaborators/", headers=bob.headers)
    assert listed.status_code == 403
    client.patch(f"/v2beta/db/{database}", json={"is_private": True}, headers=alice.headers)
    assert sql(client, bob, database, "SELECT x FROM t").status_code == 404
    assert sql(client, alice, database, "SELECT x FROM t").json()["data"] == [[1]]


def test_read_only_keys_read_and_never_write(
    client: TestClient, alice: User, database: str
) -> None:
    read_only = key(client, alice, read_only=True)
    assert sql(client, read_only, database, "SELECT x FROM t").json()["data"] == [[1]]
    for statement in (
        "INSERT INTO t VALUES (2)",
        "CREATE TABLE u (y int)",
        "SELECT lo_from_bytea(0, 'x')",
        "CREATE TEMP TABLE scratch (y int)",
    ):
        assert sql(client, read_only, database, statement).status_code in (400, 403), statement
    headers = {"Authorization": f"Bearer {read_only}"}
    assert client.get(f"/v2beta/db/{database}", headers=headers).json()["role"] == "READER"
    assert client.post("/v2beta/db/", json={"name": "ro"}, headers=headers).status_code == 403
    assert client.delete("/v2beta/api-key/", headers=headers).status_code == 403
    made = client.post("/v2beta/api-key/", headers=headers)
    assert made.status_code == 201  # a read-only key only makes read-only keys
    assert sql(client, made.json()["api_key"], database, "DELETE FROM t").status_code == 403
    listed = client.get("/v2beta/api-key/", headers=alice.headers).json()["api_keys"]
    assert sorted(k["read_only"] for k in listed) == [False, True, True]
    assert sql(client, alice, database, "SELECT count(*) FROM t").json()["data"] == [[1]]


def test_service_accounts_see_only_their_scope(
    client: TestClient, alice: User, make_user: Any, database: str, db_name: str
) -> None:
    other = client.post("/v2beta/db/", json={"name": db_name + "x"}, headers=alice.headers)
    other_name = other.json()["name"]
    created = client.post(
        "/v2beta/service-account/",
        json={"name": "etl-bot", "role": "READER", "databases": [database]},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["role"] == "READER" and account["token_count"] == 0
    assert [d["name"] for d in account["databases"]] == [database]
    minted = client.post(f"/v2beta/service-account/{account['id']}/api-key/", headers=alice.headers)
    assert minted.status_code == 201 and minted.json()["username"] == "etl-bot"
    sa_key = minted.json()["api_key"]
    sa = {"Authorization": f"Bearer {sa_key}"}
    assert sql(client, sa_key, database, "SELECT x FROM t").json()["data"] == [[1]]
    assert sql(client, sa_key, database, "INSERT INTO t VALUES (5)").status_code == 403
    assert sql(client, sa_key, other_name, "SELECT 1").status_code == 404
    assert [d["name"] for d in client.get("/v2beta/db/", headers=sa).json()["databases"]] == [
        database
    ]
    for method, path in (
        ("POST", "/v2beta/db/"),
        ("GET", "/v2beta/service-account/"),
        ("POST", "/v2beta/api-key/"),
        ("GET", "/v2beta/api-key/"),
        ("DELETE", f"/v2beta/db/{database}"),
    ):
        response = client.request(method, path, headers=sa, json={"name": "z"})
        assert response.status_code == 403, (method, path)
    got = client.get(f"/v2beta/service-account/{account['id']}", headers=alice.headers).json()
    assert got["token_count"] == 1 and got["active_token_count"] == 1
    revoked = client.delete(
        f"/v2beta/service-account/{account['id']}/api-key/", headers=alice.headers
    )
    assert revoked.status_code == 200
    assert sql(client, sa_key, database, "SELECT 1").status_code == 401
    deleted = client.delete(f"/v2beta/service-account/{account['id']}", headers=alice.headers)
    assert deleted.status_code == 200
    missing = client.get(f"/v2beta/service-account/{account['id']}", headers=alice.headers)
    assert missing.status_code == 404


def test_a_service_account_never_exceeds_its_owner(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    share(client, alice, database, bob.username, "READER")
    too_much = client.post(
        "/v2beta/service-account/",
        json={"name": "writer-bot", "role": "WRITER", "databases": [database]},
        headers=bob.headers,
    )
    assert too_much.status_code == 403
    made = client.post(
        "/v2beta/service-account/",
        json={"name": "reader-bot", "role": "READER", "databases": [database]},
        headers=bob.headers,
    ).json()
    sa_key = client.post(
        f"/v2beta/service-account/{made['id']}/api-key/", headers=bob.headers
    ).json()["api_key"]
    assert sql(client, sa_key, database, "SELECT x FROM t").status_code == 200
    # bob loses his role: his service account loses it with him
    client.delete(f"/v2beta/db/{database}/collaborators/{bob.username}", headers=alice.headers)
    assert sql(client, sa_key, database, "SELECT x FROM t").status_code == 404


def test_the_owner_transfers_a_database(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    name = database.split("/")[1]
    share(client, alice, database, bob.username, "ADMIN")
    assert share(client, bob, database, bob.username, "OWNER").status_code == 403
    moved = share(client, alice, database, bob.username, "OWNER")
    assert moved.status_code == 200 and moved.json()["role"] == "OWNER"
    new_name = f"{bob.username}/{name}"
    got = client.get(f"/v2beta/db/{new_name}", headers=bob.headers).json()
    assert got["name"] == new_name and got["role"] == "OWNER"
    mine = client.get(f"/v2beta/db/{new_name}", headers=alice.headers).json()
    assert mine["role"] == "ADMIN"
    # the old name keeps resolving for the reservation period, as after a rename
    assert sql(client, alice, database, "SELECT x FROM t").json()["data"] == [[1]]
    assert client.delete(f"/v2beta/db/{new_name}", headers=alice.headers).status_code == 403
    assert client.delete(f"/v2beta/db/{new_name}", headers=bob.headers).status_code == 200


def test_a_transfer_into_a_name_the_new_owner_has_is_refused(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    name = database.split("/")[1]
    assert client.post("/v2beta/db/", json={"name": name}, headers=bob.headers).status_code == 201
    refused = share(client, alice, database, bob.username, "OWNER")
    assert refused.status_code == 409
    assert client.get(f"/v2beta/db/{database}", headers=alice.headers).json()["role"] == "OWNER"


def test_a_service_account_has_a_role_per_database(
    client: TestClient, alice: User, database: str, db_name: str
) -> None:
    other = client.post("/v2beta/db/", json={"name": db_name + "w"}, headers=alice.headers)
    writable = other.json()["name"]
    sql(client, alice, writable, "CREATE TABLE t (x int)")
    made = client.post(
        "/v2beta/service-account/",
        json={
            "name": "mixed",
            "role": "READER",
            "databases": [database, {"name": writable, "role": "WRITER"}],
        },
        headers=alice.headers,
    )
    assert made.status_code == 201, made.text
    account = made.json()
    assert account["role"] == "WRITER"  # the strongest, in bit.io's one-role shape
    assert sorted((d["name"], d["role"]) for d in account["databases"]) == sorted(
        [(database, "READER"), (writable, "WRITER")]
    )
    sa_key = client.post(
        f"/v2beta/service-account/{account['id']}/api-key/", headers=alice.headers
    ).json()["api_key"]
    assert sql(client, sa_key, writable, "INSERT INTO t VALUES (1)").status_code == 200
    assert sql(client, sa_key, database, "INSERT INTO t VALUES (1)").status_code == 403
    no_role = client.post(
        "/v2beta/service-account/",
        json={"name": "norole", "databases": [database]},
        headers=alice.headers,
    )
    assert no_role.status_code == 422
