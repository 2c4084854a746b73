"""A recording transport for SDK tests: captures each prepared request, answers from a script.

It replaces only the HTTP socket layer of ``requests``, so the tests see the exact method, URL,
headers and body the SDK sends (contract §3.2) without a network or a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from bitdotio import bitdotio
from bitdotio.sdk import BitdotioClient

TOKEN = "v2_testkey_abc123"
BASE_URL = "http://api.test/v2beta"


class RecordingAdapter(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []
        self.bodies: list[bytes] = []
        self.timeouts: list[Any] = []
        self.status = 200
        self.content: bytes = b"{}"

    def reply(self, status: int, body: Any = None, *, raw: bytes | None = None) -> None:
        self.status = status
        self.content = raw if raw is not None else json.dumps(body).encode()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            body = b"".join(body)
        self.bodies.append(body.encode() if isinstance(body, str) else (body or b""))
        response = requests.Response()
        response.status_code = self.status
        response._content = self.content
        response.encoding = "utf-8"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass

    @property
    def last(self) -> requests.PreparedRequest:
        return self.requests[-1]

    @property
    def last_json(self) -> Any:
        return json.loads(self.bodies[-1])


@pytest.fixture
def adapter() -> RecordingAdapter:
    return RecordingAdapter()


@pytest.fixture
def sdk(adapter: RecordingAdapter) -> Iterator[BitdotioClient]:
    client = bitdotio(TOKEN, api_url=BASE_URL)
    client._api_client._session.mount("http://", adapter)
    yield client
    client.close()
