"""The original bitdotio 2.2.1 from PyPI, in its own venv, pointed at our server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, base_env

pytestmark = pytest.mark.e2e


def run_original(python: str, script: Path, *args: str) -> dict[str, Any]:
    """Run ``script`` under the original package's venv; its JSON output."""
    out = subprocess.run(
        [python, str(script), *args],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=120,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_original_client_database_and_query_calls(original_python: str, server: Server) -> None:
    key = server.create_user("legacy")
    result = run_original(
        original_python,
        Path(__file__).with_name("original_client.py"),
        server.api_url,
        key,
        "orig-db",
    )
    assert result["version"] == "2.2.1"
    assert result["created"]["name"] == "legacy/orig-db"
    assert result["created"]["storage_limit_bytes"] == 1000000
    assert result["created"]["is_private"] is False
    assert result["listed"] == ["legacy/orig-db"]
    assert result["got"] == result["created"] | {
        "storage_usage_bytes": result["got"]["storage_usage_bytes"]
    }
    assert result["updated"]["name"] == "legacy/orig-db-2"
    assert result["updated"]["is_private"] is True
    assert result["empty_update"]["name"] == "legacy/orig-db-2"
    assert result["rows"] == {
        "query_string": "SELECT * FROM person ORDER BY age",
        "metadata": {"name": "text", "age": "integer"},
        "data": [["Alice", 45], ["Bob", 84]],
    }
    assert result["objects"]["data"] == [{"name": "Alice", "age": 45}, {"name": "Bob", "age": 84}]
    assert result["unicode"]["data"] == [["é"]]
    status, body = result["sql_error"]
    assert status == 400 and body["error"]["sqlstate"] == "42P01"
    assert result["not_found"][0] == 404
    assert result["deleted"]["name"] == "legacy/orig-db-2"
    status, body = result["bad_key"]
    assert status == 401 and set(body) == {"detail", "uuid"}
