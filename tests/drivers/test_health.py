"""``GET /healthz`` reports the Postgres endpoint and its counters.

Every module of this directory also checks, at its end, that ``endpoint.connections`` is back to
0 on each server it used (``_no_endpoint_leaks`` in conftest.py).
"""

from __future__ import annotations

import psycopg
import pytest

from tests.drivers.support import Tenant, endpoint_connections, healthz, wait_until
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_healthz_reports_the_endpoint(server: Server) -> None:
    body = healthz(server)
    assert body["status"] == "ok"
    assert body["checks"]["postgres_endpoint"] == "ok"
    counters = body["endpoint"]
    for name in ("connections", "tasks"):
        assert isinstance(counters[name], int) and counters[name] >= 0, counters


def test_healthz_reports_the_job_workers(server: Server) -> None:
    """bit serve runs a worker; /healthz counts the live ones and the queue."""
    found, jobs = wait_until(lambda: healthz(server)["jobs"], lambda j: j["workers"] >= 1)
    assert found, jobs
    assert jobs["queued"] >= 0 and jobs["running"] >= 0


def test_server_prints_the_endpoint_url(server: Server) -> None:
    line = next(s for s in server.stdout_lines if s.startswith("Postgres endpoint:"))
    assert f"postgresql://127.0.0.1:{server.pg_port}/" in line


def test_connections_are_counted_and_released(tenant: Tenant, database: str) -> None:
    server = tenant.server
    drained, before = wait_until(lambda: endpoint_connections(server), lambda n: n == 0)
    assert drained, before
    conns = [psycopg.connect(tenant.conninfo(database)) for _ in range(3)]
    try:
        for conn in conns:
            conn.execute("SELECT 1")
        assert endpoint_connections(server) == 3
    finally:
        for conn in conns:
            conn.close()
    drained, after = wait_until(lambda: endpoint_connections(server), lambda n: n == 0)
    assert drained, f"{after} connections still counted after closing them all"


def test_refused_connections_are_released(tenant: Tenant, database: str) -> None:
    server = tenant.server
    for conninfo in (
        tenant.conninfo(database, key="v2_wrong"),
        tenant.conninfo(f"{tenant.username}/missing"),
        tenant.conninfo(database, sslmode="disable"),
    ):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(conninfo).close()
    drained, after = wait_until(lambda: endpoint_connections(server), lambda n: n == 0)
    assert drained, after
