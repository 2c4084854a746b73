"""Every error path answers JSON in bit.io's shapes (style.md practice 1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.conftest import User

DJANGO_KEYS = {"status_code", "error_id", "message", "help", "error"}


def _chunks(data: bytes) -> Iterator[bytes]:
    """A body sent chunked, without Content-Length."""
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


def assert_shape(status: int, body: Any) -> None:
    if status == 401:
        assert set(body) == {"detail", "uuid"}
        uuid.UUID(body["uuid"])
    elif status == 422:
        assert set(body) == {"detail"}
        assert all(set(item) == {"loc", "msg", "type"} for item in body["detail"])
    else:
        assert set(body) == DJANGO_KEYS, body
        assert body["status_code"] == status
        uuid.UUID(body["error_id"])
        assert body["error"]["type"] and body["error"]["code"].startswith("BIT")


def test_every_error_path_has_the_contract_shape(
    client: TestClient, alice: User, db_name: str
) -> None:
    h = alice.headers
    client.post("/v2beta/db/", json={"name": db_name}, headers=h)
    full = f"{alice.username}/{db_name}"
    cases = [
        ("GET", "/v2beta/db/", {}, None, 401),
        ("GET", "/v2beta/db/", {"Authorization": "Bearer v2_revoked_or_unknown"}, None, 401),
        ("POST", "/v2beta/db/", h, {"name": "bad/name"}, 400),
        ("POST", "/v2beta/db/", h, {"name": db_name}, 409),
        ("POST", "/v2beta/db/", h, {"nom": "x"}, 422),
        ("POST", "/v2beta/db/", h, b"{not json", 422),
        ("GET", "/v2beta/db/nobody/nothing", h, None, 404),
        ("PATCH", f"/v2beta/db/{full}", h, {"is_private": "perhaps"}, 422),
        ("PATCH", f"/v2beta/db/{full}", h, {"name": "x" * 30}, 400),
        ("POST", "/v2beta/query", h, {"database_name": full, "query_string": "SELEC"}, 400),
        ("POST", "/v2beta/query", h, {"database_name": "x/y", "query_string": "SELECT 1"}, 404),
        (
            "POST",
            "/v2beta/query?data_format=xml",
            h,
            {"database_name": full, "query_string": "SELECT 1"},
            400,
        ),
        ("DELETE", "/v2beta/api-key/?api_key=v2_not_mine", h, None, 404),
        ("GET", "/v2beta/nowhere", h, None, 404),
        ("PUT", "/v2beta/db/", h, None, 405),
        ("POST", f"/v2beta/db/{full}/export/", h, None, 422),
        ("POST", f"/v2beta/db/{full}/export/", h, {"export_format": "csv"}, 400),
        ("GET", "/v2beta/export/00000000-0000-0000-0000-000000000000", h, None, 404),
        ("GET", "/v2beta/export/00000000-0000-0000-0000-000000000000/download", {}, None, 403),
        ("POST", f"/v2beta/db/{full}/import/", h, None, 422),
        ("GET", "/v2beta/import/00000000-0000-0000-0000-000000000000", h, None, 404),
        ("POST", f"/v2beta/db/{full}", h, None, 405),
        ("POST", "/v2beta/query", h, b'{"query_string": "' + b"x" * 2_100_000 + b'"}', 413),
        ("POST", "/v2beta/db/", h, b'{"name": "' + b"x" * 2_100_000 + b'"}', 413),
        ("PATCH", f"/v2beta/db/{full}", h, _chunks(b"x" * 2_100_000), 413),
    ]
    for method, path, headers, body, status in cases:
        kwargs: dict[str, Any] = {"headers": headers}
        if isinstance(body, bytes | Iterator):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        response = client.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert_shape(status, response.json())


def test_openapi_declares_bearer_auth_and_the_query_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    query = spec["paths"]["/v2beta/query"]["post"]
    assert query["security"] == [{"HTTPBearer": []}]
    body = query["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"database_name", "query_string"}
    assert [p["name"] for p in query["parameters"]] == ["data_format"]
