"""Direct connections of the SDKs through the endpoint (contract §5.5): ours and 2.2.1."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from bitdotio import bitdotio
from bitdotio.sdk import BitdotioClient
from tests.drivers.support import Tenant
from tests.e2e.conftest import base_env
from tests.e2e.test_original_sdk import run_original

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent


def client(tenant: Tenant, **options: int) -> BitdotioClient:
    srv = tenant.server
    return bitdotio(
        tenant.key, api_url=srv.api_url, db_host=srv.db_host, db_port=srv.db_port, **options
    )


@pytest.fixture
def sdk(tenant: Tenant) -> Iterator[BitdotioClient]:
    with client(tenant) as b:  # closing it closes its pools: no leaked endpoint connections
        yield b


def backend_pid(sdk: BitdotioClient, db: str) -> int:
    with sdk.pooled_cursor(db) as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


def test_pooled_connection_cursor_and_get_connection(sdk: BitdotioClient, database: str) -> None:
    with sdk.pooled_connection(database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE sdk_people (name text, age integer)")
        cur.execute("INSERT INTO sdk_people VALUES (%s, %s)", ("Alice", 45))
    # Committed on normal exit; rolled back when the block raises.
    with pytest.raises(RuntimeError), sdk.pooled_cursor(database) as cur:
        cur.execute("INSERT INTO sdk_people VALUES ('Ghost', 0)")
        raise RuntimeError("abort")
    with sdk.pooled_cursor(database) as cur:
        cur.execute("INSERT INTO sdk_people VALUES (%s, %s)", ("Bob", 84))
    with sdk.pooled_cursor(database) as cur:
        cur.execute("SELECT name FROM sdk_people ORDER BY age")
        assert cur.fetchall() == [("Alice",), ("Bob",)]

    conn = sdk.get_connection(database)
    try:
        assert conn.info.ssl_in_use
        assert conn.autocommit is False
        with conn.cursor() as cur:
            cur.execute("SET application_name = 'sdk-direct'")
            cur.execute("SELECT count(*), current_setting('application_name') FROM sdk_people")
            assert cur.fetchone() == (2, "sdk-direct")
        conn.rollback()
    finally:
        conn.close()


def test_connections_are_reused_with_min_conn_0(tenant: Tenant, database: str) -> None:
    """2.2.1 reopened a backend for every block with min_conn=0; ours keeps idle ones."""
    with client(tenant, min_conn=0) as sdk:
        with sdk.pooled_connection(database) as first:
            pass
        with sdk.pooled_connection(database) as second:
            assert second is first
        assert backend_pid(sdk, database) == backend_pid(sdk, database)


def test_connection_killed_while_pooled_is_replaced(sdk: BitdotioClient, database: str) -> None:
    pid = backend_pid(sdk, database)  # the connection is idle in the pool now
    killer = sdk.get_connection(database)
    try:
        killer.autocommit = True
        with killer.cursor() as cur:
            # Sessions act as the database's group; signalling one's own other sessions needs
            # the login role itself (postgres-endpoint.md).
            cur.execute("SET ROLE NONE")
            cur.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits for the exit
            assert cur.fetchone() == (True,)
    finally:
        killer.close()
    # The next checkout notices the dead connection and opens a new one: no error surfaces.
    with sdk.pooled_cursor(database) as cur:
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] != pid


def test_connection_killed_from_within_is_replaced(sdk: BitdotioClient, database: str) -> None:
    pid = backend_pid(sdk, database)
    with pytest.raises(psycopg2.Error), sdk.pooled_cursor(database) as cur:
        cur.execute("SET ROLE NONE; SELECT pg_terminate_backend(pg_backend_pid())")
    assert backend_pid(sdk, database) != pid


def test_readme_example_program(tenant: Tenant, tmp_path: Path) -> None:
    """The 2.2.1 README's "Example usage", unchanged, against our server.

    It runs as user ``my-username`` (the name the program hard-codes for its import), and
    must run to the end: its import job creates the table ``city``.
    """
    srv = tenant.server
    key = srv.create_user("my-username")
    (tmp_path / "city.csv").write_text("name,population\nParis,2100000\nLyon,520000\n")
    out = subprocess.run(
        [sys.executable, str(HERE / "readme_example.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base_env(
            BITIO_KEY=key,
            BITIO_API_URL=srv.api_url,
            BITIO_DB_HOST=srv.db_host,
            BITIO_DB_PORT=str(srv.db_port),
        ),
        timeout=120,
    )
    printed = out.stdout.splitlines()
    assert printed, out.stderr
    result = ast.literal_eval(printed[0])
    assert result["data"] == [
        {"name": "Alice", "age": 45},
        {"name": "Bob", "age": 84},
        {"name": "Catherine", "age": 19},
        {"name": "Davis", "age": 22},
        {"name": "Emily", "age": 34},
    ]
    assert out.returncode == 0, out.stderr
    with (
        psycopg2.connect(tenant.conninfo("my-username/my-db", key=key)) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT name, population FROM city ORDER BY population DESC")
        assert cur.fetchall() == [("Paris", 2100000), ("Lyon", 520000)]


def test_original_2_2_1_pooled_cursor(original_python: str, tenant: Tenant) -> None:
    """bitdotio 2.2.1 from PyPI with its ``_BitV2`` host and port pointed at our endpoint."""
    db = tenant.create_database()
    srv = tenant.server
    result = run_original(
        original_python,
        HERE / "original_pooled.py",
        srv.api_url,
        tenant.key,
        db,
        srv.db_host,
        str(srv.db_port),
    )
    assert result["version"] == "2.2.1"
    assert result["rows"] == [["Catherine", 19], ["Alice", 45], ["Bob", 84]]
    assert result["count"] == 3
    assert result["ssl_in_use"] is True
    assert result["direct"] == "direct"
    assert result["http"] == [{"n": 3}]
