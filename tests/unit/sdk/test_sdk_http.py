"""URL building and response decoding (contract §2.1, §5.6 items 3 and 9)."""

from typing import Any

import pytest
import requests

from bitdotio import ApiError
from bitdotio.sdk._http import (
    database_path,
    decode_response,
    resolve_base_url,
    resource_path,
    with_query,
)

DEFAULT = "http://127.0.0.1:8080/v2beta"


@pytest.mark.parametrize(
    ("api_version", "api_url", "expected"),
    [
        ("v2beta", None, DEFAULT),
        ("/v2beta/", None, DEFAULT),
        ("v3", None, "http://127.0.0.1:8080/v3"),
        ("http://10.0.0.5:9000/v2beta", None, "http://10.0.0.5:9000/v2beta"),
        ("https://api.example.org/v2beta/", None, "https://api.example.org/v2beta"),
        ("v2beta", "http://other:1/v2beta/", "http://other:1/v2beta"),
        ("http://ignored/v2beta", "http://other:1/v2beta", "http://other:1/v2beta"),
    ],
)
def test_resolve_base_url(api_version: str, api_url: str | None, expected: str) -> None:
    assert resolve_base_url(api_version, api_url, DEFAULT) == expected


@pytest.mark.parametrize(
    ("db_name", "suffix", "expected"),
    [
        ("alice/mydb", "", "/db/alice/mydb"),
        ("alice/my db", "", "/db/alice/my%20db"),
        ("a/b/c", "", "/db/a/b%2Fc"),
        ("alice/x?y#z%", "", "/db/alice/x%3Fy%23z%25"),
        ("alice/mydb", "/import/", "/db/alice/mydb/import/"),
        ("alice/db/import", "/export/", "/db/alice/db%2Fimport/export/"),
    ],
)
def test_database_path(db_name: str, suffix: str, expected: str) -> None:
    assert database_path(db_name, suffix) == expected


def test_resource_path() -> None:
    assert resource_path("import", "7e1f") == "/import/7e1f"
    assert (
        resource_path("service-account", "a/b?", "/api-key/")
        == "/service-account/a%2Fb%3F/api-key/"
    )


def test_with_query() -> None:
    assert with_query("/query", {}) == "/query"
    assert with_query("/query", {"data_format": "objects"}) == "/query?data_format=objects"
    assert with_query("/query", {"data_format": ""}) == "/query?data_format="
    assert with_query("/api-key/", {"api_key": "v2_a&b=c"}) == "/api-key/?api_key=v2_a%26b%3Dc"


def _response(status: int, content: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = content
    response.encoding = "utf-8"
    return response


@pytest.mark.parametrize(("status", "body"), [(200, {"a": 1}), (201, None), (200, [1])])
def test_success_returns_the_body(status: int, body: Any) -> None:
    import json

    assert decode_response(_response(status, json.dumps(body).encode())) == body


def test_returning_unwraps_and_requires_the_key() -> None:
    assert decode_response(_response(200, b'{"databases": [1]}'), "databases") == [1]
    with pytest.raises(KeyError):
        decode_response(_response(200, b"{}"), "databases")


def test_error_status_raises_api_error_with_the_json_body() -> None:
    with pytest.raises(ApiError) as excinfo:
        decode_response(_response(404, b'{"detail": "Not Found"}'))
    assert excinfo.value.args == (404, {"detail": "Not Found"})


@pytest.mark.parametrize("content", [b"<html>Bad Gateway</html>", b""])
def test_error_status_with_a_non_json_body_keeps_the_text(content: bytes) -> None:
    with pytest.raises(ApiError) as excinfo:
        decode_response(_response(502, content))
    assert excinfo.value.args == (502, content.decode())


def test_success_with_a_non_json_body_still_fails_to_decode() -> None:
    with pytest.raises(requests.exceptions.JSONDecodeError):
        decode_response(_response(200, b""))
