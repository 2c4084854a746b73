"""The SDK's download of an export (``sdk/_download.py``, used by ``bit export``): progress,
no API key on the wire, and nothing left behind when it fails."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bitdotio import ApiError, bitdotio
from bitdotio.sdk._download import download_to_file, download_to_path
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def done_job(server: Server) -> Any:
    """A DONE JSON export of a two-row query."""
    with bitdotio(server.create_user("downloads"), api_url=server.api_url) as sdk:
        database = sdk.create_database("dl")["name"]
        query = "SELECT * FROM (VALUES ('Paris', 1), ('Lyon', 2)) AS t(name, n)"
        job = sdk.create_export_job(database, query_string=query, export_format="json")
        deadline = time.monotonic() + 60
        while job["state"] not in ("DONE", "FAILED"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
            job = sdk.get_export_job(job["id"])
    assert job["state"] == "DONE", job
    return job


def test_download_reports_progress_and_replaces_only_when_asked(
    done_job: Any, tmp_path: Path
) -> None:
    url, target = done_job["download_url"], tmp_path / "t.json"
    calls: list[tuple[int, int | None]] = []
    size = download_to_path(url, target, progress=lambda done, total: calls.append((done, total)))
    assert size == target.stat().st_size == done_job["result"]["size_bytes"]
    assert calls[0] == (0, size) and calls[-1] == (size, size)

    target.write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        download_to_path(url, target)
    assert target.read_text() == "mine"
    assert download_to_path(url, target, overwrite=True) == size
    assert target.stat().st_size == size
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_a_changed_link_raises_api_error_and_leaves_nothing(done_job: Any, tmp_path: Path) -> None:
    url = done_job["download_url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    with pytest.raises(ApiError) as raised:
        download_to_path(tampered, tmp_path / "t.json")
    assert raised.value.status_code == 403
    assert raised.value.data["message"] == "This download link is not valid"
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def short_body_server(headers_seen: list[dict[str, str]]) -> Iterator[str]:
    """Promises 1000 bytes, sends 10 and hangs up; records each request's headers."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers_seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/file"
    finally:
        server.shutdown()
        server.server_close()


def test_a_short_body_fails_without_a_key_sent_and_leaves_nothing(tmp_path: Path) -> None:
    headers_seen: list[dict[str, str]] = []
    with short_body_server(headers_seen) as url:
        with pytest.raises(requests.RequestException):
            download_to_path(url, tmp_path / "t.csv", read_timeout_s=10)
        with (tmp_path / "partial").open("wb") as out, pytest.raises(requests.RequestException):
            download_to_file(url, out, read_timeout_s=10)
    assert [p.name for p in tmp_path.iterdir()] == ["partial"]
    assert len(headers_seen) == 2
    for headers in headers_seen:
        assert "Authorization" not in headers
        assert headers["Accept-Encoding"] == "identity"
