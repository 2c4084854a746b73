"""A revoked or expired API key stops working on the wire too: new logins fail, and open
connections made with it are closed within 5 s (the endpoint checks the keys in use every 2 s).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
import requests

from tests.drivers.support import Tenant

pytestmark = pytest.mark.e2e


def mint(tenant: Tenant, **body: Any) -> str:
    response = requests.post(
        f"{tenant.server.api_url}/api-key/",
        json=body or None,
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def closed_within(conn: psycopg.Connection, seconds: float) -> float:
    """Seconds until the endpoint closed ``conn`` (a query fails), or fail the test."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"the connection was still open after {seconds} s")


def test_revoking_a_key_closes_its_connections(tenant: Tenant, database: str) -> None:
    key = mint(tenant)
    other = psycopg.connect(tenant.conninfo(database), autocommit=True)
    with psycopg.connect(tenant.conninfo(database, key=key), autocommit=True) as conn:
        conn.execute("SELECT 1")
        revoked = requests.delete(
            f"{tenant.server.api_url}/api-key/",
            params={"api_key": key},
            headers={"Authorization": f"Bearer {tenant.key}"},
            timeout=30,
        )
        assert revoked.status_code == 200
        assert closed_within(conn, 5) < 5
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(tenant.conninfo(database, key=key))
    other.execute("SELECT 1")  # connections of the user's other keys stay
    other.close()


def test_an_expired_key_closes_its_connections(tenant: Tenant, database: str) -> None:
    key = mint(tenant, expires_in_s=2)
    with psycopg.connect(tenant.conninfo(database, key=key), autocommit=True) as conn:
        conn.execute("SELECT 1")
        assert closed_within(conn, 7) < 7
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(tenant.conninfo(database, key=key))
