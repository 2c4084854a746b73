"""Keys: 401 shapes, minting, revoking one or all."""

from __future__ import annotations

import time
from typing import Any

import pytest
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


def test_a_key_can_expire(client: TestClient, alice: User) -> None:
    minted = client.post("/v2beta/api-key/", json={"expires_in_s": 1}, headers=alice.headers)
    assert minted.status_code == 201
    new = {"Authorization": f"Bearer {minted.json()['api_key']}"}
    assert client.get("/v2beta/db/", headers=new).status_code == 200  # and now cached
    time.sleep(1.2)
    assert _is_401(client.get("/v2beta/db/", headers=new))


def test_a_key_never_outlives_the_key_that_made_it(client: TestClient, alice: User) -> None:
    parent = client.post("/v2beta/api-key/", json={"expires_in_s": 1}, headers=alice.headers)
    headers = {"Authorization": f"Bearer {parent.json()['api_key']}"}
    child = client.post("/v2beta/api-key/", headers=headers)  # asks for no expiry
    assert child.status_code == 201
    time.sleep(1.2)
    assert _is_401(
        client.get("/v2beta/db/", headers={"Authorization": f"Bearer {child.json()['api_key']}"})
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"expires_in_s": 0}, 422),
        ({"expires_in_s": 5, "expires_at": "2999-01-01T00:00:00Z"}, 422),
        ({"expires_at": "2999-01-01T00:00:00"}, 422),  # no time zone
        ({"expires_at": "2000-01-01T00:00:00Z"}, 400),
    ],
)
def test_bad_expiries(client: TestClient, alice: User, body: dict[str, Any], status: int) -> None:
    assert client.post("/v2beta/api-key/", json=body, headers=alice.headers).status_code == status


def test_list_keys_shows_no_secret(client: TestClient, alice: User) -> None:
    minted = client.post(
        "/v2beta/api-key/", json={"expires_at": "2999-01-01T00:00:00Z"}, headers=alice.headers
    ).json()["api_key"]
    listed = client.get("/v2beta/api-key/", headers=alice.headers)
    assert listed.status_code == 200
    found = listed.json()["api_keys"]
    assert len(found) == 2
    assert minted not in listed.text and alice.key not in listed.text
    assert {k["prefix"] for k in found} == {minted[:8], alice.key[:8]}
    by_prefix = {k["prefix"]: k for k in found}
    assert by_prefix[alice.key[:8]]["current"] is True
    assert by_prefix[minted[:8]]["expires_at"] == "2999-01-01T00:00:00+00:00"
    assert set(found[0]) == {
        "id",
        "prefix",
        "date_created",
        "expires_at",
        "last_used",
        "current",
        "read_only",
    }
    client.delete("/v2beta/api-key/", params={"api_key": minted}, headers=alice.headers)
    assert len(client.get("/v2beta/api-key/", headers=alice.headers).json()["api_keys"]) == 1


def test_last_use_is_recorded(client: TestClient, alice: User) -> None:
    state = client.app.state.bitio  # type: ignore[attr-defined]
    client.get("/v2beta/db/", headers=alice.headers)
    client.portal.call(state.key_usage.flush, state.pools.catalog)  # type: ignore[union-attr]
    (key,) = client.get("/v2beta/api-key/", headers=alice.headers).json()["api_keys"]
    assert key["last_used"] is not None
