"""Keys: 401 shapes, minting, revoking one or all."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.conftest import User


def _is_401(response) -> bool:
    body = response.json()
    return response.status_code == 401 and set(body) == {"detail", "uuid"}


def test_missing_malformed_and_unknown_keys_are_401(client: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic v2_abc"},
        {"Authorization": "Bearer v2_"},
        {"Authorization": "Bearer v2_unknown_key"},
        {"Authorization": "Bearer v3_abc"},
    ):
        assert _is_401(client.get("/v2beta/db/", headers=headers)), headers


def test_mint_and_revoke_one(client: TestClient, alice: User) -> None:
    minted = client.post("/v2beta/api-key/", headers=alice.headers)
    assert minted.status_code == 201
    body = minted.json()
    assert body["username"] == alice.username
    assert body["api_key"].startswith("v2_")
    new = {"Authorization": f"Bearer {body['api_key']}"}
    assert client.get("/v2beta/db/", headers=new).status_code == 200
    revoked = client.delete(
        "/v2beta/api-key/", params={"api_key": body["api_key"]}, headers=alice.headers
    )
    assert revoked.status_code == 200 and revoked.json() is None
    assert _is_401(client.get("/v2beta/db/", headers=new))
    assert client.get("/v2beta/db/", headers=alice.headers).status_code == 200
    again = client.delete(
        "/v2beta/api-key/", params={"api_key": body["api_key"]}, headers=alice.headers
    )
    assert again.status_code == 404


def test_cannot_revoke_someone_elses_key(client: TestClient, alice: User, bob: User) -> None:
    response = client.delete("/v2beta/api-key", params={"api_key": bob.key}, headers=alice.headers)
    assert response.status_code == 404
    assert client.get("/v2beta/db/", headers=bob.headers).status_code == 200


def test_bare_delete_revokes_all_including_the_caller(client: TestClient, alice: User) -> None:
    other = client.post("/v2beta/api-key", headers=alice.headers).json()["api_key"]
    response = client.delete("/v2beta/api-key", headers=alice.headers)
    assert response.status_code == 200 and response.json() is None
    assert _is_401(client.get("/v2beta/db/", headers=alice.headers))
    assert _is_401(client.get("/v2beta/db/", headers={"Authorization": f"Bearer {other}"}))
