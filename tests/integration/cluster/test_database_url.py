"""The production path: BITIO_DATABASE_URL naming a CREATEDB CREATEROLE role, not a superuser."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from fastapi.testclient import TestClient

from bitdotio.cluster.bootstrap import Cluster, prepare_catalog, start_postgres
from bitdotio.config import Settings
from bitdotio.server.app import create_app
from tests.integration.conftest import create_user


@pytest.fixture(scope="module")
def url_cluster(settings: Settings, cluster: Cluster) -> Cluster:
    with psycopg.connect(cluster.access.platform(), autocommit=True) as conn:
        conn.execute("CREATE ROLE platform_url LOGIN CREATEDB CREATEROLE")
        # Our own hardening revoked PUBLIC's CONNECT; an operator grants it to the platform.
        conn.execute("GRANT CONNECT ON DATABASE postgres TO platform_url")
    url = f"host={cluster.access.base['host']} port=5432 user=platform_url dbname=postgres"
    url_settings = settings.replace(database_url=url, catalog_database="bitio_catalog_url")
    result = start_postgres(url_settings, exclusive=True)
    asyncio.run(prepare_catalog(result))
    return result


def test_create_query_delete_without_a_superuser(settings: Settings, url_cluster: Cluster) -> None:
    user = create_user(url_cluster, "urluser")
    app = create_app(settings, url_cluster)
    with TestClient(app) as client:
        created = client.post("/v2beta/db/", json={"name": "viaurl"}, headers=user.headers)
        assert created.status_code == 201, created.text
        full = created.json()["name"]
        body = {
            "database_name": full,
            "query_string": "SELECT current_user LIKE '%\\_owner' AND session_user LIKE 'u\\_%'",
        }
        response = client.post("/v2beta/query", json=body, headers=user.headers)
        assert response.json()["data"] == [[True]]
        assert client.delete(f"/v2beta/db/{full}", headers=user.headers).status_code == 200
    with psycopg.connect(url_cluster.access.catalog()) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)
        assert conn.execute("SELECT count(*) FROM databases").fetchone() == (0,)
