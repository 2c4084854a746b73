"""The SDK against a real ``bit serve``: databases, queries, errors and keys (contract §2, §5).

Fixtures ``server`` and ``cli_env`` come from ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bitdotio import ApiError, bitdotio
from bitdotio.sdk import BitdotioClient

pytestmark = pytest.mark.e2e


def unique_name(prefix: str) -> str:
    """A fresh name of at most 23 characters (contract §1)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def connect(server: Any, key: str) -> BitdotioClient:
    return bitdotio(key, api_url=server.api_url, db_host=server.db_host, db_port=server.db_port)


@pytest.fixture(scope="module")
def user_key(server: Any) -> str:
    return server.create_user(unique_name("sdk"))


@pytest.fixture
def sdk(server: Any, user_key: str) -> Iterator[BitdotioClient]:
    with connect(server, user_key) as client:
        yield client


@pytest.fixture
def database(sdk: BitdotioClient) -> Iterator[str]:
    """A fresh private database's full name; deleted afterwards if the test has not."""
    full_name: str = sdk.create_database(unique_name("db"))["name"]
    yield full_name
    with contextlib.suppress(ApiError):
        sdk.delete_database(full_name)


def test_database_lifecycle(sdk: BitdotioClient) -> None:
    name = unique_name("life")
    created = sdk.create_database(name, is_private=True)
    full_name = created["name"]
    assert full_name.endswith(f"/{name}")
    assert (created["is_private"], created["role"]) == (True, "OWNER")

    assert full_name in [db["name"] for db in sdk.list_databases()]
    assert sdk.get_database(full_name)["id"] == created["id"]

    assert sdk.update_database(full_name)["name"] == full_name
    assert sdk.update_database(full_name, is_private=False)["is_private"] is False

    new_name = unique_name("renamed")
    renamed = sdk.update_database(full_name, name=new_name)
    assert renamed["name"] == full_name.split("/")[0] + "/" + new_name
    assert sdk.get_database(renamed["name"])["id"] == created["id"]

    deleted = sdk.delete_database(renamed["name"])
    assert deleted["id"] == created["id"]
    with pytest.raises(ApiError) as excinfo:
        sdk.get_database(renamed["name"])
    assert excinfo.value.status_code == 404


def test_create_with_a_storage_limit(sdk: BitdotioClient) -> None:
    created = sdk.create_database(unique_name("lim"), storage_limit_bytes=1_000_000)
    try:
        assert created["storage_limit_bytes"] == 1_000_000
    finally:
        sdk.delete_database(created["name"])


def test_query_rows_and_objects(sdk: BitdotioClient, database: str) -> None:
    rows = sdk.query(database, "SELECT 1 AS x")
    assert rows["query_string"] == "SELECT 1 AS x"
    assert list(rows["metadata"]) == ["x"]
    assert rows["data"] == [[1]]
    assert sdk.query(database, "SELECT 1 AS x", data_format="objects")["data"] == [{"x": 1}]
    assert sdk.query(database, "SELECT 1 AS x", data_format="rows")["data"] == [[1]]


def test_queries_persist_between_calls(sdk: BitdotioClient, database: str) -> None:
    sdk.query(database, "CREATE TABLE person (name text, age integer)")
    sdk.query(database, "INSERT INTO person VALUES ('Alice', 45), ('Bob', 84)")
    result = sdk.query(database, "SELECT name FROM person ORDER BY age", data_format="objects")
    assert result["data"] == [{"name": "Alice"}, {"name": "Bob"}]


def test_sql_error_is_a_400(sdk: BitdotioClient, database: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        sdk.query(database, "SELEC nonsense")
    assert excinfo.value.status_code == 400


def test_unknown_key_is_a_401(server: Any) -> None:
    with connect(server, "v2_unknown_key") as stranger, pytest.raises(ApiError) as excinfo:
        stranger.list_databases()
    assert excinfo.value.status_code == 401
    assert "detail" in excinfo.value.data


def test_missing_database_is_a_404(sdk: BitdotioClient, database: str) -> None:
    owner = database.split("/")[0]
    with pytest.raises(ApiError) as excinfo:
        sdk.get_database(f"{owner}/{unique_name('nope')}")
    assert excinfo.value.status_code == 404


def test_private_database_is_hidden_from_others(
    server: Any, sdk: BitdotioClient, database: str
) -> None:
    with connect(server, server.create_user(unique_name("other"))) as other:
        with pytest.raises(ApiError) as excinfo:
            other.get_database(database)
        assert excinfo.value.status_code == 404
        sdk.update_database(database, is_private=False)
        assert other.get_database(database)["name"] == database


def test_create_and_revoke_a_key(server: Any, sdk: BitdotioClient) -> None:
    credentials = sdk.create_key()
    new_key = credentials["api_key"]
    assert new_key.startswith("v2_")
    with connect(server, new_key) as second:
        assert isinstance(second.list_databases(), list)
        assert sdk.revoke_keys(new_key) is None
        with pytest.raises(ApiError) as excinfo:
            second.list_databases()
    assert excinfo.value.status_code == 401
    assert isinstance(sdk.list_databases(), list)
