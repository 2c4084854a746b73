"""A database made before the owner/write/read groups existed is brought to them at start:
what its members' login roles owned goes to the owner group, readers can read it."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bitdotio.cluster import tenancy
from bitdotio.cluster.bootstrap import Cluster
from tests.integration.conftest import User


def test_an_old_database_is_upgraded(
    client: TestClient, cluster: Cluster, alice: User, bob: User, db_name: str
) -> None:
    created = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    full = created.json()["name"]
    with psycopg.connect(cluster.access.catalog(), autocommit=True) as catalog:
        physical, login = catalog.execute(
            "SELECT d.physical_name, u.role_name FROM databases d JOIN users u"
            " ON u.id = d.owner_id WHERE d.id = %s",
            [created.json()["id"]],
        ).fetchone()  # type: ignore[misc]
    # Make it look like a database from before the groups: no write and read groups, and a
    # table owned by alice's login role itself.
    old_login = make_conninfo(cluster.access.tenant(physical, login, "none"), options="")
    with psycopg.connect(old_login, autocommit=True) as conn:
        conn.execute("CREATE TABLE legacy (x int)")
        conn.execute("INSERT INTO legacy VALUES (7)")
    with psycopg.connect(cluster.access.platform(physical), autocommit=True) as conn:
        for group in (f"{physical}_write", f"{physical}_read"):
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(group)))
    with psycopg.connect(cluster.access.platform(), autocommit=True) as conn:
        for group in (f"{physical}_write", f"{physical}_read"):
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(group)))

    async def upgrade() -> None:
        async with await psycopg.AsyncConnection.connect(
            cluster.access.catalog(), autocommit=True
        ) as conn:
            await tenancy.upgrade_databases(cluster.access, conn)

    asyncio.run(upgrade())
    with psycopg.connect(cluster.access.platform(physical), autocommit=True) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'legacy'")
        assert owner.fetchone() == (f"{physical}_owner",)
    share = client.put(
        f"/v2beta/db/{full}/collaborators/{bob.username}",
        json={"role": "READER"},
        headers=alice.headers,
    )
    assert share.status_code == 200
    body = {"database_name": full, "query_string": "SELECT x FROM legacy"}
    response = client.post("/v2beta/query", json=body, headers=bob.headers)
    assert response.json()["data"] == [[7]]
    body["query_string"] = "DELETE FROM legacy"
    assert client.post("/v2beta/query", json=body, headers=bob.headers).status_code == 403
