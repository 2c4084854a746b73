"""/v2beta/db/{owner}/{name}/import/ and /v2beta/import/{id}: the form, the job's life, the
outcome in the database, atomic failures and idempotent retries (the worker runs in-process)."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from bitdotio.catalog import import_jobs
from bitdotio.cluster.bootstrap import Cluster
from bitdotio.cluster.pools import Pools
from bitdotio.config import Settings
from bitdotio.jobs import imports
from bitdotio.jobs.runtime import Runtime
from tests.file_server import serving
from tests.integration.conftest import User

CITIES = b"name,pop,founded\nParis,2100000,0250-01-01\nLyon,516000,\n"


@pytest.fixture
def database(client: TestClient, alice: User, db_name: str) -> str:
    response = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert response.status_code == 201
    return str(response.json()["name"])


def start_import(
    client: TestClient, user: User, database: str, data: bytes | None = None, **fields: str
) -> Any:
    files = {"file": ("t", data)} if data is not None else None
    return client.post(
        f"/v2beta/db/{database}/import/", data=fields, files=files, headers=user.headers
    )


def wait(client: TestClient, user: User, job: dict[str, Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while job["state"] not in ("DONE", "FAILED"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        response = client.get(f"/v2beta/import/{job['id']}", headers=user.headers)
        assert response.status_code == 200
        job = response.json()
    return job


def rows(client: TestClient, user: User, database: str, sql: str) -> list[list[Any]]:
    response = client.post(
        "/v2beta/query",
        headers=user.headers,
        json={"database_name": database, "query_string": sql},
    )
    assert response.status_code == 200, response.json()
    return list(response.json()["data"])


def test_a_csv_upload_becomes_a_table(client: TestClient, alice: User, database: str) -> None:
    response = start_import(client, alice, database, CITIES, table_name="cities")
    assert response.status_code == 201
    job = response.json()
    assert job["state"] == "RECEIVED" and job["retries"] == 0
    assert set(job) >= {
        "id",
        "date_created",
        "date_finished",
        "state",
        "retries",
        "error_type",
        "error_id",
        "error_details",
        "status_url",
    }
    assert job["status_url"].endswith(f"/v2beta/import/{job['id']}")
    done = wait(client, alice, job)
    assert done["state"] == "DONE", done
    assert done["date_finished"] and done["error_type"] is None
    assert done["result"]["tables"] == [
        {"schema": "public", "name": "cities", "rows": 2, "created": True}
    ]
    assert rows(
        client,
        alice,
        database,
        "SELECT name, pop, founded::text, pg_typeof(pop)::text FROM cities ORDER BY pop DESC",
    ) == [["Paris", 2100000, "0250-01-01", "integer"], ["Lyon", 516000, None, "integer"]]


def test_appends_by_column_name_into_a_new_schema(
    client: TestClient, alice: User, database: str
) -> None:
    first = wait(
        client,
        alice,
        start_import(client, alice, database, CITIES, table_name="c", schema_name="geo").json(),
    )
    assert first["state"] == "DONE", first
    reordered = b"founded,name,pop\n1900-01-01,Nice,342000\n"
    second = wait(
        client,
        alice,
        start_import(client, alice, database, reordered, table_name="c", schema_name="geo").json(),
    )
    assert second["state"] == "DONE", second
    assert second["result"]["tables"][0]["created"] is False
    assert rows(client, alice, database, "SELECT count(*), max(founded)::text FROM geo.c") == [
        [3, "1900-01-01"]
    ]


def test_a_failed_append_changes_nothing(client: TestClient, alice: User, database: str) -> None:
    wait(client, alice, start_import(client, alice, database, CITIES, table_name="c").json())
    bad = b"name,pop\nNantes,320000\nBrest,lots\n"
    job = wait(client, alice, start_import(client, alice, database, bad, table_name="c").json())
    assert job["state"] == "FAILED"
    assert job["error_type"] == "InvalidValue"
    uuid.UUID(job["error_id"])
    details = job["error_details"]
    assert details["column"] == "pop" and "lots" in details["message"]
    assert rows(client, alice, database, "SELECT count(*) FROM c") == [[2]]


def test_a_column_the_table_lacks_fails_clearly(
    client: TestClient, alice: User, database: str
) -> None:
    wait(client, alice, start_import(client, alice, database, CITIES, table_name="c").json())
    job = wait(
        client,
        alice,
        start_import(client, alice, database, b"name,area\nLille,34\n", table_name="c").json(),
    )
    assert job["state"] == "FAILED" and job["error_type"] == "ColumnMismatch"
    assert job["error_details"]["unmatched_columns"] == ["area"]


def test_a_failed_multi_table_import_leaves_no_table(
    client: TestClient, alice: User, database: str
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", "x\n1\n2\n")
        zf.writestr("b.csv", "y\nhello\n")
    # b's table already exists with a type its rows do not fit: the whole import fails.
    rows(client, alice, database, "CREATE TABLE z_b (y integer)")
    job = wait(
        client,
        alice,
        start_import(client, alice, database, archive.getvalue(), table_name="z").json(),
    )
    assert job["state"] == "FAILED", job
    assert rows(client, alice, database, "SELECT to_regclass('z_a') IS NULL") == [[True]]


@pytest.fixture
def file_server() -> Iterator[str]:
    with serving(CITIES, "cities.csv") as url:
        yield url


def test_file_url_is_downloaded(
    client: TestClient, alice: User, database: str, file_server: str
) -> None:
    response = client.post(
        f"/v2beta/db/{database}/import/",
        data={"table_name": "remote", "file_url": file_server},
        headers=alice.headers,
    )
    assert response.status_code == 201
    job = wait(client, alice, response.json())
    assert job["state"] == "DONE", job
    assert rows(client, alice, database, "SELECT count(*) FROM remote") == [[2]]


@pytest.mark.parametrize(
    ("data", "fields", "status"),
    [
        (None, {"table_name": "t"}, 400),  # neither file nor URL
        (CITIES, {"table_name": "t", "file_url": "http://example.org/x.csv"}, 400),  # both
        (CITIES, {}, 422),  # no table_name
        (CITIES, {"table_name": "t", "infer_header": "yes"}, 422),
        (None, {"table_name": "t", "file_url": "file:///etc/passwd"}, 400),
        (CITIES, {"table_name": "x" * 64}, 422),
    ],
)
def test_bad_forms(
    client: TestClient,
    alice: User,
    database: str,
    data: bytes | None,
    fields: dict[str, str],
    status: int,
) -> None:
    response = start_import(client, alice, database, data, **fields)
    assert response.status_code == status, response.json()


def test_uploads_over_the_cap_get_413(client: TestClient, alice: User, database: str) -> None:
    response = start_import(client, alice, database, b"x\n" * 2_000_000, table_name="big")
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "UploadTooLarge"


def test_other_users_see_neither_the_database_nor_the_job(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    assert start_import(client, bob, database, CITIES, table_name="t").status_code == 404
    job = start_import(client, alice, database, CITIES, table_name="t").json()
    assert client.get(f"/v2beta/import/{job['id']}", headers=bob.headers).status_code == 404
    assert client.get("/v2beta/import/not-a-uuid", headers=alice.headers).status_code == 404
    wait(client, alice, job)


def test_a_retry_after_the_load_committed_does_not_load_twice(
    client: TestClient, cluster: Cluster, settings: Settings, alice: User, database: str
) -> None:
    """A worker that died between the tenant COMMIT and the catalog's DONE: the next attempt
    finds the transaction committed and only records the outcome."""
    job = wait(client, alice, start_import(client, alice, database, CITIES, table_name="c").json())
    assert job["state"] == "DONE"

    async def replay(committed: bool) -> Any:
        pools = Pools(cluster.access, catalog_size=1, tenant_size=1)
        await pools.open()
        try:
            async with pools.catalog.connection() as conn:
                record = await import_jobs.get(conn, uuid.UUID(job["id"]))
                assert record is not None
                async with await psycopg.AsyncConnection.connect(
                    cluster.access.platform(record.physical_name)
                ) as tenant:
                    cur = await tenant.execute("SELECT pg_current_xact_id()::text")
                    row = await cur.fetchone()
                    assert row is not None
                    await (tenant.commit() if committed else tenant.rollback())
                await conn.execute(
                    "UPDATE import_jobs SET state = 'PROCESSING', load_xid = %s::xid8"
                    " WHERE id = %s",
                    [row[0], record.id],
                )
            await imports.run(Runtime.create(settings, cluster.access, pools.catalog), record.id)
            async with pools.catalog.connection() as conn:
                return await import_jobs.get(conn, record.id)
        finally:
            await pools.close()

    replayed = asyncio.run(replay(committed=True))
    assert replayed.state == "DONE" and replayed.retries == 1
    assert rows(client, alice, database, "SELECT count(*) FROM c") == [[2]]
    # An attempt whose transaction rolled back loads again; the upload is gone by now, so
    # that attempt fails cleanly instead.
    replayed = asyncio.run(replay(committed=False))
    assert replayed.state == "FAILED" and replayed.error_type == "FileMissing"
    assert rows(client, alice, database, "SELECT count(*) FROM c") == [[2]]


def _upload_key(cluster: Cluster, job_id: str) -> str | None:
    async def fetch() -> str | None:
        async with await psycopg.AsyncConnection.connect(cluster.access.catalog()) as conn:
            record = await import_jobs.get(conn, uuid.UUID(job_id))
            assert record is not None
            return record.upload_key

    return asyncio.run(fetch())


def test_the_upload_is_deleted_when_the_job_ends(
    client: TestClient, cluster: Cluster, alice: User, database: str
) -> None:
    job = wait(client, alice, start_import(client, alice, database, CITIES, table_name="c").json())
    key = _upload_key(cluster, job["id"])
    assert key is not None
    store = client.app.state.bitio.runtime.store  # type: ignore[attr-defined]
    assert not store.exists(key)


def test_a_form_cut_short_is_refused_and_leaves_no_file(
    client: TestClient, alice: User, database: str
) -> None:
    store = client.app.state.bitio.runtime.store  # type: ignore[attr-defined]
    uploads = store.root / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="table_name"\r\n\r\nt\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="t"\r\n\r\n'
        b"name,pop\nParis,1\n"  # no closing boundary: the client died mid-upload
    )
    response = client.post(
        f"/v2beta/db/{database}/import/",
        content=body,
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "UploadIncomplete"
    after = set(uploads.iterdir()) if uploads.exists() else set()
    assert after == before


def test_the_import_has_only_the_callers_rights(
    client: TestClient, alice: User, database: str
) -> None:
    """The load runs as the caller's own role: no more than the caller could do with SQL."""
    job = wait(
        client,
        alice,
        start_import(
            client, alice, database, CITIES, table_name="t", schema_name="pg_catalog"
        ).json(),
    )
    assert job["state"] == "FAILED" and job["error_type"] == "PermissionDenied", job


def test_sqlite_keys_and_indexes_arrive_in_postgres(
    client: TestClient, alice: User, database: str
) -> None:
    data = (Path(__file__).resolve().parents[2] / "data" / "imports" / "shop.sqlite").read_bytes()
    job = wait(client, alice, start_import(client, alice, database, data, table_name="x").json())
    assert job["state"] == "DONE", job
    kinds = rows(
        client,
        alice,
        database,
        "SELECT contype::text, count(*) FROM pg_constraint c JOIN pg_namespace n"
        " ON n.oid = c.connamespace WHERE n.nspname = 'public' GROUP BY 1 ORDER BY 1",
    )
    assert dict((k, n) for k, n in kinds).keys() >= {"f", "p"}, kinds
    assert {s["kind"] for s in job["result"]["skipped"]} >= {"view", "trigger"}


def test_names_that_look_like_sql_are_only_names(
    client: TestClient, alice: User, database: str
) -> None:
    table = 'x"; DROP TABLE c; --'
    schema = "s'; SELECT 1; --"
    wait(client, alice, start_import(client, alice, database, CITIES, table_name="c").json())
    job = wait(
        client,
        alice,
        start_import(client, alice, database, CITIES, table_name=table, schema_name=schema).json(),
    )
    assert job["state"] == "DONE", job
    quoted = '"s\'; SELECT 1; --"."x""; DROP TABLE c; --"'
    assert rows(client, alice, database, f"SELECT count(*) FROM {quoted}") == [[2]]
    assert rows(client, alice, database, "SELECT count(*) FROM c") == [[2]]


def test_without_a_header_an_append_matches_columns_by_position(
    client: TestClient, alice: User, database: str
) -> None:
    rows(client, alice, database, "CREATE TABLE p (city text, pop integer, note text)")
    job = wait(
        client,
        alice,
        start_import(
            client,
            alice,
            database,
            b"Paris,2100000\nLyon,516000\n",
            table_name="p",
            infer_header="no_header",
        ).json(),
    )
    assert job["state"] == "DONE", job
    assert rows(client, alice, database, "SELECT city, pop, note FROM p ORDER BY pop") == [
        ["Lyon", 516000, None],
        ["Paris", 2100000, None],
    ]
