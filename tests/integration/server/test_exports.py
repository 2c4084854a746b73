"""/v2beta/db/{owner}/{name}/export/, /v2beta/export/{id} and the download link: the request,
the job's life, what the file holds, failures that leave no file (the worker runs in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import errno
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import export_jobs
from bitdotio.cluster.bootstrap import Cluster
from bitdotio.config import Settings
from bitdotio.jobs import exports
from bitdotio.jobs.runtime import Runtime
from bitdotio.storage import LocalFileStore
from tests.integration.conftest import User


@pytest.fixture
def database(client: TestClient, alice: User, db_name: str) -> str:
    response = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert response.status_code == 201
    name = str(response.json()["name"])
    run_sql(
        client,
        alice,
        name,
        "CREATE TABLE cities AS SELECT * FROM (VALUES ('Paris', 2100000, '-5'),"
        " ('Lyon', 516000, '=1+1'), ('Nice', NULL, '@SUM(A1)')) v(name, pop, note)",
    )
    return name


def run_sql(client: TestClient, user: User, database: str, sql: str) -> Any:
    response = client.post(
        "/v2beta/query",
        headers=user.headers,
        json={"database_name": database, "query_string": sql},
    )
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def start(client: TestClient, user: User, database: str, **body: Any) -> Any:
    body.setdefault("export_format", "csv")
    return client.post(f"/v2beta/db/{database}/export/", json=body, headers=user.headers)


def wait(client: TestClient, user: User, job: dict[str, Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while job["state"] not in ("DONE", "FAILED"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        response = client.get(f"/v2beta/export/{job['id']}", headers=user.headers)
        assert response.status_code == 200
        job = response.json()
    return job


def export(client: TestClient, user: User, database: str, **body: Any) -> Any:
    response = start(client, user, database, **body)
    assert response.status_code == 201, response.json()
    return wait(client, user, response.json())


def download(client: TestClient, job: dict[str, Any]) -> Any:
    assert job["state"] == "DONE", job
    parts = urlsplit(job["download_url"])
    return client.get(f"{parts.path}?{parts.query}")  # no Authorization header


def test_a_query_exports_to_csv_with_a_header(
    client: TestClient, alice: User, database: str
) -> None:
    response = start(client, alice, database, query_string="SELECT name, pop FROM cities;")
    assert response.status_code == 201
    created = response.json()
    assert created["state"] == "RECEIVED" and created["download_url"] is None
    assert created["export_format"] == "csv" and created["file_name"] == "query.csv"
    assert created["status_url"].endswith(f"/v2beta/export/{created['id']}")
    job = wait(client, alice, created)
    assert job["state"] == "DONE" and job["error_type"] is None
    assert job["download_url"].startswith("http")
    assert job["result"]["rows"] == 3
    got = download(client, job)
    assert got.status_code == 200
    assert got.content == b"name,pop\nParis,2100000\nLyon,516000\nNice,\n"
    assert got.headers["content-length"] == str(len(got.content))
    assert got.headers["content-disposition"] == 'attachment; filename="query.csv"'
    assert got.headers["content-type"].startswith("text/csv")


def test_a_table_exports_in_every_format(client: TestClient, alice: User, database: str) -> None:
    import openpyxl
    import pyarrow.parquet as pq

    expected = [["Paris", 2100000, "-5"], ["Lyon", 516000, "=1+1"], ["Nice", None, "@SUM(A1)"]]
    for export_format, file_name in [
        ("json", "cities.json"),
        ("xls", "cities.xlsx"),
        ("parquet", "cities.parquet"),
    ]:
        job = export(
            client, alice, database, table_name="cities", schema_name="public",
            export_format=export_format,
        )  # fmt: skip
        assert job["file_name"] == file_name
        content = download(client, job).content
        if export_format == "json":
            got = [list(o.values()) for o in json.loads(content)]
        elif export_format == "xls":
            sheet = openpyxl.load_workbook(io.BytesIO(content)).active
            header, *cells = [list(r) for r in sheet.iter_rows(values_only=True)]
            assert header == ["name", "pop", "note"]
            got = cells
            # text that looks like a formula is a string cell, never a formula
            assert {c.data_type for c in next(sheet.iter_cols(min_col=3, min_row=2))} == {"s"}
        else:
            got = [list(r.values()) for r in pq.read_table(io.BytesIO(content)).to_pylist()]
        assert got == expected, export_format


def test_csv_escapes_formulas_unless_asked_not_to(
    client: TestClient, alice: User, database: str
) -> None:
    job = export(client, alice, database, query_string="SELECT note, pop FROM cities")
    rows = list(csv.reader(io.StringIO(download(client, job).text)))
    assert rows == [["note", "pop"], ["'-5", "2100000"], ["'=1+1", "516000"], ["'@SUM(A1)", ""]]
    job = export(
        client, alice, database, query_string="SELECT note FROM cities", escape_formulas=False
    )
    assert download(client, job).text == "note\n-5\n=1+1\n@SUM(A1)\n"


TRIGGERS = ["=cmd|' /C calc'!A0", "+1+1", "-5", "@SUM(1)", "\tx", "\rx", "plain", "a=b"]


def test_every_trigger_character_is_defused_in_csv_and_xlsx(
    client: TestClient, alice: User, database: str
) -> None:
    """security.md §4.7: = + - @ TAB CR; negative numbers stored as text included."""
    import openpyxl

    values = ", ".join(f"($q${v}$q$)" for v in TRIGGERS)  # dollar quotes: TAB and CR as-is
    run_sql(
        client, alice, database, f"CREATE TABLE triggers AS SELECT * FROM (VALUES {values}) v(t)"
    )
    job = export(client, alice, database, table_name="triggers")
    rows = list(csv.reader(io.StringIO(download(client, job).text, newline="")))
    assert [r[0] for r in rows[1:]] == [("'" + v) if v[0] in "=+-@\t\r" else v for v in TRIGGERS]
    job = export(client, alice, database, table_name="triggers", export_format="xls")
    sheet = openpyxl.load_workbook(io.BytesIO(download(client, job).content)).active
    cells = list(sheet.iter_rows(min_row=2))
    # unchanged (but XML reads a CR as LF), and never a formula
    assert [c[0].value for c in cells] == [v.replace("\r", "\n") for v in TRIGGERS]
    assert {c[0].data_type for c in cells} == {"s"}


def test_file_names_are_sanitised(client: TestClient, alice: User, database: str) -> None:
    job = export(
        client, alice, database, query_string="SELECT 1 AS x", file_name="../../etc/pass\nwd.csv"
    )
    assert job["file_name"] == "_.._etc_pass_wd.csv"
    disposition = download(client, job).headers["content-disposition"]
    assert "/" not in disposition and "\n" not in disposition


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "BIT406"),
        ({"query_string": "SELECT 1", "table_name": "t"}, 400, "BIT406"),
        ({"query_string": "SELECT 1", "export_format": "xml"}, 422, None),
        ({"query_string": "  "}, 422, None),
        ({"table_name": "x" * 64}, 422, None),
        ({"query_string": "SELECT 1", "escape_formulas": "maybe"}, 422, None),
    ],
)
def test_bad_requests(
    client: TestClient,
    alice: User,
    database: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    response = start(client, alice, database, **body)
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["error"]["code"] == code
    else:
        assert response.json()["detail"][0]["loc"][0] == "body"


def test_other_users_see_neither_the_database_nor_the_job(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    response = start(client, bob, database, query_string="SELECT * FROM cities")
    assert response.status_code == 404
    job = export(client, alice, database, query_string="SELECT 1 AS x")
    response = client.get(f"/v2beta/export/{job['id']}", headers=bob.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "BIT405"
    assert client.get("/v2beta/export/not-a-uuid", headers=alice.headers).status_code == 404


@pytest.mark.parametrize(
    ("query", "error_type"),
    [
        ("SELECT rolpassword FROM pg_authid", "PermissionDenied"),
        ("SELECT pg_sleep(30)", "QueryTimeout"),  # export-timeout-s is 3 s in these tests
        ("SELECT 1; SELECT 2", "MultipleStatements"),
        ("SELECT * FROM no_such_table", "SqlError"),
        ("CREATE TABLE sneaky (x int)", "NoResult"),
        ("SELECT 1 AS x FROM (DELETE FROM cities RETURNING 1) d", "SqlError"),
        ("SELECT setval(pg_get_serial_sequence('s', 'id'), 5) FROM s", "ReadOnly"),
    ],
)
def test_queries_that_must_fail_fail_clearly_and_change_nothing(
    client: TestClient, alice: User, database: str, query: str, error_type: str
) -> None:
    run_sql(client, alice, database, "CREATE TABLE IF NOT EXISTS s (id serial, v int)")
    run_sql(client, alice, database, "INSERT INTO s (v) VALUES (1)")
    job = export(client, alice, database, query_string=query)
    assert job["state"] == "FAILED", job
    assert job["error_type"] == error_type, job
    assert uuid.UUID(job["error_id"]) and job["error_details"]["message"]
    assert job["download_url"] is None
    assert run_sql(client, alice, database, "SELECT count(*) FROM cities") == [[3]]
    assert run_sql(client, alice, database, "SELECT to_regclass('sneaky')::text") == [[None]]


def test_excel_limits_are_errors_not_truncation(
    client: TestClient, alice: User, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bitdotio.exports import xlsx_writer

    monkeypatch.setattr(xlsx_writer, "MAX_ROWS", 3)  # the worker runs in this process
    job = export(client, alice, database, query_string="SELECT * FROM cities", export_format="xls")
    assert job["state"] == "FAILED" and job["error_type"] == "ExcelLimitExceeded"
    job = export(
        client, alice, database, query_string="SELECT repeat('x', 40000)", export_format="xls"
    )
    assert job["error_type"] == "ExcelLimitExceeded"


def test_tampered_and_expired_links_are_refused(
    client: TestClient, alice: User, database: str
) -> None:
    job = export(client, alice, database, query_string="SELECT 1 AS x")
    parts = urlsplit(job["download_url"])
    query = parse_qs(parts.query)
    signature, expires = query["signature"][0], int(query["expires"][0])
    for tampered in (
        f"expires={expires + 3600}&signature={signature}",
        f"expires={expires}&signature={'0' * len(signature)}",
        f"expires={expires}",
        "",
    ):
        response = client.get(f"{parts.path}?{tampered}")
        assert response.status_code == 403, tampered
        assert response.json()["error"]["code"] == "BIT408"
    other = export(client, alice, database, query_string="SELECT 2 AS x")
    response = client.get(f"/v2beta/export/{other['id']}/download?{parts.query}")
    assert response.status_code == 403  # a signature is for one job only

    links = client.app.state.bitio.links  # type: ignore[attr-defined]
    from datetime import UTC, datetime, timedelta

    stale = links.url("", uuid.UUID(job["id"]), datetime.now(UTC) - timedelta(seconds=5))
    response = client.get(stale)
    assert response.status_code == 403 and response.json()["error"]["code"] == "BIT407"


def test_expired_files_are_deleted(
    client: TestClient, cluster: Cluster, settings: Settings, alice: User, database: str
) -> None:
    job = export(client, alice, database, query_string="SELECT 1 AS x")
    store = LocalFileStore(Path(settings.data_dir) / "files")

    async def expire() -> list[str]:
        async with await psycopg.AsyncConnection.connect(cluster.access.catalog()) as conn:
            await conn.execute(
                "UPDATE export_jobs SET expires_at = now() - interval '1 s' WHERE id = %s",
                [job["id"]],
            )
            return await export_jobs.expired_files(conn)

    keys = asyncio.run(expire())
    assert len(keys) == 1 and store.exists(keys[0])
    store.delete(keys[0])  # what the sweep does with the keys
    response = download(client, job)  # the link itself has not expired: the file has
    assert response.status_code == 404 and response.json()["error"]["code"] == "BIT409"


class _FullDisk:
    """A file store whose disk fills up after a few bytes."""

    def __init__(self, inner: LocalFileStore) -> None:
        self.inner = inner

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        with self.inner.writer(key) as fh:
            original = fh.write

            def write(data: Any) -> int:
                if fh.tell() + len(data) > 100:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return original(data)

            fh.write = write  # type: ignore[method-assign]
            yield fh

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("export_format", ["csv", "json", "xls", "parquet"])
def test_a_full_disk_fails_the_job_and_leaves_no_file(
    client: TestClient,
    cluster: Cluster,
    settings: Settings,
    alice: User,
    database: str,
    export_format: str,
) -> None:
    template = export(client, alice, database, query_string="SELECT 1 AS x")
    root = Path(settings.data_dir) / "files"

    async def run() -> Any:
        async with (
            await psycopg.AsyncConnection.connect(
                cluster.access.catalog(), autocommit=True
            ) as conn,
            AsyncConnectionPool(cluster.access.catalog(), min_size=1, max_size=1) as pool,
        ):
            like = await export_jobs.get(conn, uuid.UUID(template["id"]))
            assert like is not None
            job = await export_jobs.insert(  # never queued: only this test runs it
                conn,
                database_id=like.database_id,
                user_id=like.user_id,
                export_format=export_format,
                query_string="SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
                table=None,
                file_name="big",
                escape_formulas=True,
            )
            store = _FullDisk(LocalFileStore(root))
            await exports.run(Runtime(settings, cluster.access, pool, store, root / "s"), job.id)
            return await export_jobs.get(conn, job.id)

    record = asyncio.run(run())
    assert record.state == "FAILED" and record.error_type == "StorageError", record
    assert "No space left on device" in record.error_details["message"]
    assert record.file_key is None
    assert not [p for p in (root / "exports").iterdir() if p.name.startswith(str(record.id))]
    assert not list((root / "exports").glob("*.partial"))


def test_deleting_the_database_deletes_its_export_files(
    client: TestClient, settings: Settings, alice: User, database: str
) -> None:
    job = export(client, alice, database, query_string="SELECT 1 AS x")
    root = Path(settings.data_dir) / "files" / "exports"
    before = {p.name for p in root.iterdir()}
    response = client.delete(f"/v2beta/db/{database}", headers=alice.headers)
    assert response.status_code == 200
    gone = before - {p.name for p in root.iterdir()}
    assert len(gone) == 1 and gone.pop().endswith(".csv")
    assert download(client, job).status_code == 404
