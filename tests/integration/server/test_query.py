"""/v2beta/query: shapes, one statement, one transaction, limits, errors, no leftover state."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import User


@pytest.fixture
def database(client: TestClient, alice: User, db_name: str) -> str:
    response = client.post("/v2beta/db/", json={"name": db_name}, headers=alice.headers)
    assert response.status_code == 201
    return response.json()["name"]


def query(client: TestClient, user: User, database: str, sql: str, fmt: str | None = None):
    params = {"data_format": fmt} if fmt is not None else None
    return client.post(
        "/v2beta/query",
        params=params,
        headers=user.headers,
        json={"database_name": database, "query_string": sql},
    )


def test_rows_and_objects(client: TestClient, alice: User, database: str) -> None:
    rows = query(client, alice, database, "SELECT 1 AS x")
    assert rows.json() == {
        "query_string": "SELECT 1 AS x",
        "metadata": {"x": "integer"},
        "data": [[1]],
    }
    objects = query(client, alice, database, "SELECT 1 AS x", "objects")
    assert objects.json()["data"] == [{"x": 1}]
    assert query(client, alice, database, "SELECT 1 AS x", "").json()["data"] == [[1]]
    assert query(client, alice, database, "SELECT 1", "csv").status_code == 400


def test_value_encoding(client: TestClient, alice: User, database: str) -> None:
    sql = (
        "SELECT 9007199254740993::bigint AS big, 1.50::numeric AS n, 'NaN'::float8 AS nan,"
        " 2.5::float4 AS f, true AS b, '{\"k\": [1]}'::jsonb AS j, ARRAY[1,2] AS a,"
        " '\\x41'::bytea AS raw, DATE '2023-01-02' AS d, NULL::text AS z, 'é' AS u"
    )
    body = query(client, alice, database, sql).json()
    assert body["data"] == [
        [
            9007199254740993,
            "1.50",
            "NaN",
            2.5,
            True,
            {"k": [1]},
            [1, 2],
            "\\x41",
            "2023-01-02",
            None,
            "é",
        ]
    ]
    assert body["metadata"] == {
        "big": "bigint",
        "n": "numeric",
        "nan": "double precision",
        "f": "real",
        "b": "boolean",
        "j": "jsonb",
        "a": "integer[]",
        "raw": "bytea",
        "d": "date",
        "z": "text",
        "u": "text",
    }


def test_duplicate_columns_are_suffixed(client: TestClient, alice: User, database: str) -> None:
    body = query(client, alice, database, "SELECT 1 AS x, 2 AS x", "objects").json()
    assert body["metadata"] == {"x": "integer", "x_2": "integer"}
    assert body["data"] == [{"x": 1, "x_2": 2}]


def test_user_defined_types_are_named(client: TestClient, alice: User, database: str) -> None:
    assert query(client, alice, database, "CREATE TYPE mood AS ENUM ('ok')").status_code == 200
    body = query(client, alice, database, "SELECT 'ok'::mood AS m").json()
    assert body == {
        "query_string": "SELECT 'ok'::mood AS m",
        "metadata": {"m": "mood"},
        "data": [["ok"]],
    }


def test_ddl_dml_and_empty_results(client: TestClient, alice: User, database: str) -> None:
    assert query(client, alice, database, "CREATE TABLE t (a int)").json()["data"] == []
    assert query(client, alice, database, "INSERT INTO t VALUES (1), (2)").json() == {
        "query_string": "INSERT INTO t VALUES (1), (2)",
        "metadata": {},
        "data": [],
    }
    empty = query(client, alice, database, "SELECT a FROM t WHERE false").json()
    assert empty["metadata"] == {"a": "integer"} and empty["data"] == []


def test_multiple_statements_are_refused_before_running(
    client: TestClient, alice: User, database: str
) -> None:
    query(client, alice, database, "CREATE TABLE t (a int)")
    response = query(client, alice, database, "INSERT INTO t VALUES (1); SELECT 2")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BIT301"
    assert query(client, alice, database, "SELECT count(*) FROM t").json()["data"] == [[0]]


def test_sql_errors_carry_sqlstate_and_leave_nothing(
    client: TestClient, alice: User, database: str
) -> None:
    response = query(client, alice, database, "SELECT * FROM nope")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["sqlstate"] == "42P01"
    assert body["message"] == 'relation "nope" does not exist'
    query(client, alice, database, "CREATE TABLE u (a int PRIMARY KEY)")
    query(client, alice, database, "INSERT INTO u VALUES (1)")
    dup = query(client, alice, database, "INSERT INTO u VALUES (2), (1)")
    assert dup.status_code == 409 and dup.json()["error"]["sqlstate"] == "23505"
    assert query(client, alice, database, "SELECT count(*) FROM u").json()["data"] == [[1]]


def test_timeout_is_504_even_if_the_statement_lifts_it(
    client: TestClient, alice: User, database: str
) -> None:
    sql = "SELECT set_config('statement_timeout', '0', true), pg_sleep(5)"
    response = query(client, alice, database, sql)
    assert response.status_code == 504
    assert response.json()["error"]["sqlstate"] == "57014"


def test_result_cap_is_an_error_not_truncation(
    client: TestClient, alice: User, database: str
) -> None:
    response = query(
        client, alice, database, "SELECT repeat('x', 1000) FROM generate_series(1, 5000)"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BIT303"
    assert query(client, alice, database, "SELECT 1").status_code == 200


def test_no_session_state_survives_between_requests(
    client: TestClient, alice: User, database: str
) -> None:
    for sql in (
        "SET statement_timeout = 0",
        "LISTEN chan",
        "CREATE TEMP TABLE tmp (a int)",
        "SELECT pg_advisory_lock(42)",
        "SET ROLE NONE",
    ):
        query(client, alice, database, sql)
    checks = {
        "SELECT current_setting('statement_timeout')": [["2s"]],
        "SELECT count(*) FROM pg_listening_channels()": [[0]],
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()": [
            [0]
        ],
    }
    for sql, expected in checks.items():
        assert query(client, alice, database, sql).json()["data"] == expected, sql


def test_query_runs_as_the_callers_own_role(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    """Logged in as alice's own role, acting as the database's owner group."""
    me = query(client, alice, database, "SELECT current_user, session_user").json()["data"][0]
    assert me[0].endswith("_owner") and me[1].startswith("u_")
    assert query(client, bob, database, "SELECT 1").status_code == 404
    escape = query(client, alice, database, "RESET ROLE")
    assert escape.status_code == 200
    assert query(client, alice, database, "SELECT current_user").json()["data"][0][0] == me[0]


def test_tenants_cannot_reach_cluster_privileges(
    client: TestClient, alice: User, database: str
) -> None:
    for sql in (
        "CREATE ROLE x",
        "COPY (SELECT 1) TO '/tmp/x'",
        "SELECT pg_read_file('PG_VERSION')",
        "ALTER SYSTEM SET work_mem = '1GB'",
        "CREATE EXTENSION dblink",
        "ALTER DATABASE current SET search_path = public",
    ):
        response = query(client, alice, database, sql)
        assert response.status_code in (400, 403), (sql, response.text)


def test_unknown_and_invisible_databases_are_404(
    client: TestClient, alice: User, bob: User, database: str
) -> None:
    for name in ("nobody/nothing", "garbage", database):
        response = query(client, bob, name, "SELECT 1")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "BIT104"


def test_empty_query_and_missing_fields(client: TestClient, alice: User, database: str) -> None:
    assert query(client, alice, database, "  ").status_code == 400
    response = client.post("/v2beta/query", json={"database_name": database}, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "query_string"]


def test_copy_is_refused_cleanly(client: TestClient, alice: User, database: str) -> None:
    query(client, alice, database, "CREATE TABLE c (a int)")
    for sql in ("COPY c TO STDOUT", "COPY c FROM STDIN"):
        response = query(client, alice, database, sql)
        assert response.status_code == 400, sql
        assert "COPY" in response.json()["message"]
    assert query(client, alice, database, "SELECT 1").status_code == 200


def test_many_queries_reuse_pooled_connections(
    client: TestClient, alice: User, database: str
) -> None:
    """Regression: psycopg's auto-prepare plus DISCARD ALL broke the 6th reuse (26000)."""
    for n in range(25):
        response = query(client, alice, database, f"SELECT {n} AS n")
        assert response.status_code == 200, (n, response.text)
        assert response.json()["data"] == [[n]]


def test_transaction_control_and_errors_leave_the_connection_usable(
    client: TestClient, alice: User, database: str
) -> None:
    statements = [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SELECT 1/0",
        "SAVEPOINT s",
        "SELECT 1; SELECT 2",
        "PREPARE p AS SELECT 1",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "ABORT",
        "SET search_path = nowhere",
    ]
    for _ in range(3):  # more rounds than the pool has connections
        for sql in statements:
            response = query(client, alice, database, sql)
            assert response.status_code in (200, 400), (sql, response.text)
        checks = {
            "SELECT count(*) FROM pg_prepared_statements": [[0]],
            "SELECT count(*) FROM pg_cursors WHERE name <> ''": [[0]],
            "SHOW search_path": [['"$user", public']],
        }
        for sql, expected in checks.items():
            assert query(client, alice, database, sql).json()["data"] == expected, sql
