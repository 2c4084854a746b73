"""The ``bit`` CLI as a subprocess against a real ``bit serve``: exact output (contract §6).

Fixtures ``server`` and ``cli_env`` come from ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e


def unique_name(prefix: str) -> str:
    """A fresh name of at most 23 characters (contract §1)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def user_key(server: Any) -> str:
    return server.create_user(unique_name("cli"))


@pytest.fixture
def bit(cli_env: dict[str, str], user_key: str) -> Any:
    def run(
        *args: str, key: str = user_key, stdin: str = "", cwd: Path | None = None
    ) -> subprocess.CompletedProcess:
        env = {**os.environ, **cli_env, "BITIO_KEY": key}
        return subprocess.run(
            [sys.executable, "-m", "bitdotio", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=cwd,
        )

    return run


def json_line(completed: subprocess.CompletedProcess) -> Any:
    """The one line of JSON a command printed, checked to be in 2.2.1's format (§6.3)."""
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.endswith("\n") and completed.stdout.count("\n") == 1
    value = json.loads(completed.stdout)
    assert completed.stdout == json.dumps(value) + "\n"
    return value


@pytest.fixture
def database(bit: Any) -> Iterator[str]:
    full_name = json_line(bit("db", "create", "-n", unique_name("db")))["name"]
    yield full_name
    bit("db", "delete", "-d", full_name)


def test_db_commands(bit: Any) -> None:
    name = unique_name("clidb")
    created = json_line(bit("db", "create", "-n", name, "-p", "false"))
    full_name = created["name"]
    assert full_name.endswith(f"/{name}")
    assert created["is_private"] is False

    assert full_name in [db["name"] for db in json_line(bit("db", "list"))]
    assert json_line(bit("db", "info", "-d", full_name))["id"] == created["id"]

    # -p on update is sent as the string "true"; the server coerces it (contract §3.5).
    assert json_line(bit("db", "update", "-d", full_name, "-p", "true"))["is_private"] is True
    new_name = unique_name("clinew")
    renamed = json_line(bit("db", "update", "-d", full_name, "-n", new_name))["name"]
    assert renamed.endswith(f"/{new_name}")

    deleted = bit("db", "delete", "-d", renamed)
    assert deleted.returncode == 0
    assert deleted.stdout == f"Successfully deleted database: {renamed}\n"

    missing = bit("db", "info", "-d", renamed)
    assert missing.returncode == 3
    assert missing.stdout.startswith("ApiError status_code=404 data=")


def test_query_rows(bit: Any, database: str) -> None:
    result = json_line(bit("query", "-d", database, "-q", "SELECT 1 AS x"))
    assert result["query_string"] == "SELECT 1 AS x"
    assert list(result["metadata"]) == ["x"]
    assert result["data"] == [[1]]


def test_query_objects(bit: Any, database: str) -> None:
    result = json_line(bit("query", "-d", database, "-q", "SELECT 1 AS x", "-o"))
    assert result["data"] == [{"x": 1}]


def test_query_from_stdin_keeps_the_newline(bit: Any, database: str) -> None:
    result = json_line(bit("query", "-d", database, "-qf", "-", stdin="SELECT 2 AS y\n"))
    assert result["query_string"] == "SELECT 2 AS y\n"
    assert result["data"] == [[2]]


def test_unknown_key_prints_the_api_error(bit: Any) -> None:
    completed = bit("db", "list", key="v2_unknown_key")
    assert completed.returncode == 3
    assert completed.stdout.startswith("ApiError status_code=401 data={")


def test_key_create_prints_credentials(bit: Any) -> None:
    credentials = json_line(bit("key", "create"))
    assert credentials["api_key"].startswith("v2_")
    assert json_line(bit("key", "revoke", "--api-key", credentials["api_key"])) is None


def test_key_create_with_expiry_and_list(bit: Any) -> None:
    credentials = json_line(bit("key", "create", "--expires-in", "3600"))
    listed = json_line(bit("key", "list"))
    assert credentials["api_key"] not in json.dumps(listed)
    mine = next(k for k in listed if k["prefix"] == credentials["api_key"][:8])
    assert mine["expires_at"] and mine["current"] is False
    assert sum(k["current"] for k in listed) == 1
    json_line(bit("key", "revoke", "--api-key", credentials["api_key"]))
    assert bit("key", "create", "--expires-in", "0").returncode == 2


@pytest.fixture
def cities(bit: Any, database: str) -> str:
    """``database`` with a ``cities`` table, one of whose names looks like a formula."""
    for sql in (
        "CREATE TABLE cities (name text, population integer)",
        "INSERT INTO cities VALUES ('Paris', 2100000), ('=HYPERLINK(1)', 0)",
    ):
        json_line(bit("query", "-d", database, "-q", sql))
    return database


def test_export_query_to_a_csv_file(bit: Any, cities: str, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    sql = "SELECT * FROM cities ORDER BY population DESC"
    done = bit("export", "-d", cities, "-q", sql, "-f", "csv", "-o", str(out))
    job = json_line(done)
    assert job["state"] == "DONE" and job["export_format"] == "csv", job
    assert job["result"]["rows"] == 2 and job["result"]["size_bytes"] == out.stat().st_size
    # Formula-like text gets a leading ' by default (CSV injection).
    assert out.read_text() == "name,population\nParis,2100000\n'=HYPERLINK(1),0\n"
    assert "Downloading" in done.stderr and f"Saved {out} (" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left

    raw = bit("export", "-d", cities, "-q", sql, "-o", str(out), "--force", "--no-escape-formulas")
    assert json_line(raw)["state"] == "DONE"
    assert out.read_text() == "name,population\nParis,2100000\n=HYPERLINK(1),0\n"


def test_export_a_table_to_parquet_under_the_jobs_file_name(
    bit: Any, cities: str, tmp_path: Path
) -> None:
    job = json_line(bit("export", "-d", cities, "-t", "cities", "-f", "parquet", cwd=tmp_path))
    assert job["state"] == "DONE" and job["file_name"] == "cities.parquet", job
    table = pq.read_table(tmp_path / "cities.parquet")
    assert table.column_names == ["name", "population"]
    assert sorted(table.column("population").to_pylist()) == [0, 2100000]

    # An existing file is kept unless --force; the error goes to stderr (stdout may be a file).
    again = bit("export", "-d", cities, "-t", "cities", "-f", "parquet", cwd=tmp_path)
    assert again.returncode == 3 and again.stdout == ""
    assert again.stderr == "Error: cities.parquet already exists; use --force to overwrite it\n"
    forced = bit(
        "export", "-d", cities, "--table", "cities", "--format", "parquet", "--force", cwd=tmp_path
    )
    assert json_line(forced)["state"] == "DONE"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cities.parquet"]


def test_export_to_stdout(bit: Any, cities: str) -> None:
    done = bit("export", "-d", cities, "-q", "SELECT name FROM cities ORDER BY 1", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "name\n'=HYPERLINK(1)\nParis\n"  # only the file
    job = json.loads(done.stderr.splitlines()[-1])  # the job JSON, after the progress bar
    assert job["state"] == "DONE" and job["download_url"]


def test_a_failed_export_exits_1_with_the_job(bit: Any, database: str, tmp_path: Path) -> None:
    out = tmp_path / "missing.csv"
    failed = bit("export", "-d", database, "-q", "SELECT * FROM no_such_table", "-o", str(out))
    assert failed.returncode == 1
    job = json.loads(failed.stdout)
    assert failed.stdout == json.dumps(job) + "\n"
    assert job["state"] == "FAILED" and job["error_type"] and job["error_id"], job
    assert job["download_url"] is None
    assert not out.exists()


def test_export_no_wait_prints_the_created_job(bit: Any, cities: str, tmp_path: Path) -> None:
    job = json_line(bit("export", "-d", cities, "-t", "cities", "--no-wait", cwd=tmp_path))
    assert job["state"] in ("RECEIVED", "PROCESSING", "DONE")
    assert job["export_format"] == "csv" and job["file_name"] == "cities.csv"
    status = json_line(bit("export-status", job["id"]))
    assert status["id"] == job["id"]
    assert list(tmp_path.iterdir()) == []  # nothing downloaded

    refused = bit("export", "-d", cities, "-t", "cities", "--no-wait", "-o", "x.csv")
    assert refused.returncode == 2
    assert "--output and --force need the download: drop --no-wait" in refused.stderr
