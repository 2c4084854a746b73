"""/v2beta/db: shapes, both slash forms, rename aliases, reservations, visibility."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.integration.conftest import User

DATABASE_KEYS = {
    "id",
    "name",
    "date_created",
    "is_private",
    "role",
    "storage_limit_bytes",
    "storage_usage_bytes",
    "usage_current",
    "usage_previous",
}


def create(client: TestClient, user: User, name: str, **fields: object) -> dict:
    response = client.post("/v2beta/db/", json={"name": name, **fields}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_contract_shape(client: TestClient, alice: User, db_name: str) -> None:
    body = create(client, alice, db_name)
    assert set(body) == DATABASE_KEYS
    assert body["name"] == f"{alice.username}/{db_name}"
    assert body["is_private"] is True
    assert body["role"] == "OWNER"
    assert body["storage_limit_bytes"] == 3221225472
    assert body["storage_usage_bytes"] > 0
    uuid.UUID(body["id"])
    assert set(body["usage_current"]) == {"rows_queried", "period_start", "period_end"}


def test_null_is_private_means_private_and_limits_are_clamped(
    client: TestClient, alice: User, db_name: str
) -> None:
    body = create(client, alice, db_name, is_private=None, storage_limit_bytes=10**15)
    assert body["is_private"] is True
    assert body["storage_limit_bytes"] == 10737418240


def test_list_has_the_wrapper_key_with_and_without_slash(
    client: TestClient, alice: User, db_name: str
) -> None:
    create(client, alice, db_name)
    for path in ("/v2beta/db", "/v2beta/db/"):
        response = client.get(path, headers=alice.headers)
        assert response.status_code == 200
        assert [d["name"] for d in response.json()["databases"]] == [f"{alice.username}/{db_name}"]


def test_get_with_trailing_slash_and_case_insensitive(
    client: TestClient, alice: User, db_name: str
) -> None:
    create(client, alice, db_name)
    for path in (f"{alice.username}/{db_name}", f"{alice.username}/{db_name.upper()}/"):
        response = client.get(f"/v2beta/db/{path}", headers=alice.headers)
        assert response.status_code == 200, path
        assert response.json()["name"] == f"{alice.username}/{db_name}"


def test_private_database_of_another_user_is_not_found(
    client: TestClient, alice: User, bob: User, db_name: str
) -> None:
    create(client, alice, db_name)
    path = f"/v2beta/db/{alice.username}/{db_name}"
    missing = client.get(f"/v2beta/db/{alice.username}/nope", headers=bob.headers)
    hidden = client.get(path, headers=bob.headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"] == missing.json()["message"]
    assert client.delete(path, headers=bob.headers).status_code == 404
    assert client.patch(path, json={}, headers=bob.headers).status_code == 404


def test_public_database_is_visible_read_only_to_others(
    client: TestClient, alice: User, bob: User, db_name: str
) -> None:
    create(client, alice, db_name, is_private=False)
    path = f"/v2beta/db/{alice.username}/{db_name}"
    body = client.get(path, headers=bob.headers).json()
    assert body["role"] == "READER"
    assert client.get("/v2beta/db/", headers=bob.headers).json() == {"databases": []}
    assert client.patch(path, json={"is_private": True}, headers=bob.headers).status_code == 403
    assert client.delete(path, headers=bob.headers).status_code == 403


def test_update_accepts_empty_body_and_string_booleans(
    client: TestClient, alice: User, db_name: str
) -> None:
    before = create(client, alice, db_name)
    path = f"/v2beta/db/{alice.username}/{db_name}"
    assert client.patch(path, json={}, headers=alice.headers).json() == before
    for raw, expected in (("false", False), ("yes", True), ("0", False), ("on", True)):
        response = client.patch(path, json={"is_private": raw}, headers=alice.headers)
        assert response.status_code == 200, raw
        assert response.json()["is_private"] is expected
    bad = client.patch(path, json={"is_private": "maybe"}, headers=alice.headers)
    assert bad.status_code == 422


def test_rename_keeps_the_old_name_as_alias_and_reserves_it(
    client: TestClient, alice: User, db_name: str
) -> None:
    create(client, alice, db_name)
    old = f"/v2beta/db/{alice.username}/{db_name}"
    renamed = client.patch(old, json={"name": f"{db_name}-new"}, headers=alice.headers)
    assert renamed.status_code == 200
    assert renamed.json()["name"] == f"{alice.username}/{db_name}-new"
    assert client.get(old, headers=alice.headers).json()["name"] == renamed.json()["name"]
    conflict = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "BIT103"
    back = client.patch(old, json={"name": db_name}, headers=alice.headers)
    assert back.status_code == 200
    assert back.json()["name"] == f"{alice.username}/{db_name}"


def test_delete_returns_the_database_and_reserves_the_name(
    client: TestClient, alice: User, db_name: str
) -> None:
    created = create(client, alice, db_name)
    path = f"/v2beta/db/{alice.username}/{db_name}"
    deleted = client.delete(path, headers=alice.headers)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == created["id"]
    assert client.get(path, headers=alice.headers).status_code == 404
    again = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert again.status_code == 409


def test_duplicate_name_is_a_conflict(client: TestClient, alice: User, db_name: str) -> None:
    create(client, alice, db_name)
    response = client.post("/v2beta/db/", json={"name": db_name.upper()}, headers=alice.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "BIT102"


def test_invalid_names_are_rejected_and_nothing_is_created(client: TestClient, alice: User) -> None:
    for name in ("", "a/b", "a.b", "-x", "x" * 24, "spa ce", "é"):
        response = client.post("/v2beta/db/", json={"name": name}, headers=alice.headers)
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "BIT101"
    assert client.get("/v2beta/db/", headers=alice.headers).json() == {"databases": []}


def test_names_with_slashes_in_paths_are_not_found(client: TestClient, alice: User) -> None:
    for path in (f"{alice.username}/a/b/c", f"{alice.username}/my%2Fdb", "no/such"):
        response = client.get(f"/v2beta/db/{path}", headers=alice.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "DatabaseNotFound"


def test_wrong_types_are_422_and_change_nothing(client: TestClient, alice: User) -> None:
    for body in (
        {},
        {"name": 5},
        {"name": "ok", "storage_limit_bytes": "lots"},
        {"name": "ok", "storage_limit_bytes": 0},
        [1, 2],
    ):
        response = client.post("/v2beta/db/", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        detail = response.json()["detail"]
        assert all(set(item) == {"loc", "msg", "type"} for item in detail)
    assert client.get("/v2beta/db/", headers=alice.headers).json() == {"databases": []}


def test_malformed_json_is_422(client: TestClient, alice: User) -> None:
    response = client.post("/v2beta/db/", content=b'{"name":', headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_post_to_a_database_other_than_import_or_export_is_405(
    client: TestClient, alice: User, db_name: str
) -> None:
    create(client, alice, db_name)
    response = client.post(
        f"/v2beta/db/{alice.username}/{db_name}/vacuum/", json={}, headers=alice.headers
    )
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "BIT108"
