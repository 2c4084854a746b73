"""pg_dump, pg_restore and pgbench (libpq 15 client tools) through the endpoint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.drivers.support import Tenant
from tests.e2e.conftest import base_env

pytestmark = pytest.mark.e2e


def run(*args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, capture_output=True, text=True, env=base_env(), timeout=120)
    assert out.returncode == 0, f"{args[0]} exited {out.returncode}: {out.stderr}"
    return out


@pytest.fixture(scope="module")
def dumped_database(tenant: Tenant, database: str) -> str:
    """The module's database with a table, a view, a sequence and some rows."""
    with psycopg.connect(tenant.conninfo(database), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE dump_people (id serial PRIMARY KEY, name text NOT NULL, age integer)"
        )
        conn.execute("INSERT INTO dump_people (name, age) VALUES ('Alice', 45), ('Bob', 84)")
        conn.execute("CREATE VIEW dump_adults AS SELECT name FROM dump_people WHERE age >= 18")
        conn.execute("COMMENT ON TABLE dump_people IS 'dumped through the endpoint'")
    return database


def test_pg_dump_plain(tenant: Tenant, dumped_database: str, tmp_path: Path) -> None:
    target = tmp_path / "dump.sql"
    run("pg_dump", tenant.conninfo(dumped_database), "--file", str(target))
    sql = target.read_text()
    assert "CREATE TABLE public.dump_people" in sql
    assert "CREATE VIEW public.dump_adults" in sql
    assert "COPY public.dump_people (id, name, age) FROM stdin;" in sql
    assert "1\tAlice\t45\n2\tBob\t84\n\\.\n" in sql
    assert "dumped through the endpoint" in sql


def test_pg_dump_custom_format_and_restore_listing(
    tenant: Tenant, dumped_database: str, tmp_path: Path
) -> None:
    target = tmp_path / "dump.custom"
    run("pg_dump", "-Fc", tenant.conninfo(dumped_database), "--file", str(target))
    assert target.read_bytes().startswith(b"PGDMP")
    listing = run("pg_restore", "--list", str(target)).stdout
    assert "TABLE public dump_people" in listing
    assert "TABLE DATA public dump_people" in listing
    # Restore the dump into a second database through the endpoint too. --no-acl: the grants
    # and default privileges name the first database's groups (postgres-endpoint.md).
    copy = tenant.create_database()
    run(
        "pg_restore",
        "--no-owner",
        "--no-acl",
        "--exit-on-error",
        "--dbname",
        tenant.conninfo(copy),
        str(target),
    )
    with psycopg.connect(tenant.conninfo(copy)) as conn:
        rows = conn.execute("SELECT name FROM dump_adults ORDER BY name").fetchall()
    assert rows == [("Alice",), ("Bob",)]


def test_pgbench_initialise_and_select_only_run(tenant: Tenant) -> None:
    bench_db = tenant.create_database()
    target = tenant.conninfo(bench_db)
    run("pgbench", "-i", "-s", "1", target)
    out = run("pgbench", "-S", "-c", "4", "-T", "2", target).stdout
    assert "number of clients: 4" in out
    processed = next(
        line for line in out.splitlines() if "number of transactions actually processed" in line
    )
    assert int(processed.split(":")[1].split("/")[0]) > 0
    assert "number of failed transactions: 0" in out
