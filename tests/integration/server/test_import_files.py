"""Every file in tests/data/imports through the HTTP API, end to end: upload, the worker, the
tables in Postgres read back cell by cell (``col::text``) against expected.json; files that must
fail end FAILED with the expected ``error_type`` and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import User, create_user
from tests.integration.server.test_imports import rows, start_import, wait

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text())
SHORT_TYPES = {
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
}


@pytest.fixture(scope="module")
def owner(client: TestClient) -> tuple[User, str]:
    user = create_user(client.app.state.bitio.cluster, "importfiles")  # type: ignore[attr-defined]
    response = client.post("/v2beta/db/", json={"name": "files"}, headers=user.headers)
    assert response.status_code == 201
    return user, response.json()["name"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_imports_cell_by_cell(client: TestClient, owner: tuple[User, str], name: str) -> None:
    user, database = owner
    expected = EXPECTED[name]
    schema = "f_" + Path(name).stem + "_" + Path(name).suffix.lstrip(".")
    job = start_import(
        client,
        user,
        database,
        (DATA / name).read_bytes(),
        table_name=Path(name).stem,
        schema_name=schema,
    ).json()
    job = wait(client, user, job)
    if "error_type" in expected:
        assert job["state"] == "FAILED", job
        assert job["error_type"] == expected["error_type"], job
        assert job["error_details"]["message"]
        left = rows(client, user, database, f"SELECT to_regnamespace({_literal(schema)}) IS NULL")
        assert left == [[True]]  # not even the schema the import would have created
        return
    assert job["state"] == "DONE", job
    assert job["result"]["format"] == expected["format"]
    loaded = {t["name"]: t["rows"] for t in job["result"]["tables"]}
    assert set(loaded) == set(expected["tables"])
    for table, want in expected["tables"].items():
        qualified = f"{_quote(schema)}.{_quote(table)}"
        columns = rows(
            client,
            user,
            database,
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute"
            f" WHERE attrelid = {_literal(qualified)}::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum",
        )
        assert [[n, SHORT_TYPES.get(t, t)] for n, t in columns] == want["columns"], table
        casts = ", ".join(f"{_quote(c)}::text" for c, _ in want["columns"])
        got = (
            rows(
                client,
                user,
                database,
                f"SELECT json_agg(json_build_array({casts})) FROM {qualified}",
            )[0][0]
            or []
        )
        assert loaded[table] == len(want["rows"])
        assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, want["rows"])), table
