"""Cached lookups stay coherent with catalog changes made by other processes (NOTIFY)."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from bitdotio.cluster.bootstrap import Cluster
from tests.integration.conftest import User


def eventually(check: Callable[[], bool], within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def catalog_sql(cluster: Cluster, sql: str, params: list[object]) -> None:
    """A write by "another process": straight into the catalog, not through this app."""
    with psycopg.connect(cluster.access.catalog(), autocommit=True) as conn:
        conn.execute(sql, params)


def test_key_revoked_elsewhere_stops_working(
    client: TestClient, cluster: Cluster, alice: User
) -> None:
    assert client.get("/v2beta/db/", headers=alice.headers).status_code == 200
    assert client.get("/v2beta/db/", headers=alice.headers).status_code == 200  # cached now
    catalog_sql(
        cluster,
        "UPDATE api_keys SET date_revoked = now() WHERE user_id ="
        " (SELECT id FROM users WHERE username = %s)",
        [alice.username],
    )
    assert eventually(lambda: client.get("/v2beta/db/", headers=alice.headers).status_code == 401)


def test_database_renamed_elsewhere_is_not_served_under_the_old_name(
    client: TestClient, cluster: Cluster, alice: User, db_name: str
) -> None:
    client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    body = {"database_name": f"{alice.username}/{db_name}", "query_string": "SELECT 1"}
    for _ in range(2):
        assert client.post("/v2beta/query", json=body, headers=alice.headers).status_code == 200
    catalog_sql(
        cluster, "UPDATE databases SET name = %s WHERE name = %s", [db_name + "-x", db_name]
    )
    assert eventually(
        lambda: client.post("/v2beta/query", json=body, headers=alice.headers).status_code == 404
    )


def test_revocation_through_the_api_is_immediate(client: TestClient, alice: User) -> None:
    key = client.post("/v2beta/api-key/", headers=alice.headers).json()["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v2beta/db/", headers=headers).status_code == 200
    client.delete("/v2beta/api-key/", params={"api_key": key}, headers=alice.headers)
    assert client.get("/v2beta/db/", headers=headers).status_code == 401
