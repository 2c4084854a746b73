"""Export jobs started by the original 2.2.1 package, and their ``download_url`` fetched with
plain ``curl`` and no API key (contract §2.3 "Export", §7.3)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_original_sdk import run_original

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROWS = [("Paris", 2100000), ("Lyon", 520000)]
JOB_KEYS = {
    "id",
    "date_created",
    "date_finished",
    "state",
    "retries",
    "error_type",
    "error_id",
    "status_url",
    "export_format",
    "file_name",
    "download_url",
}
# label -> (export_format, file_name): the defaults are <table or "query">.<extension>.
EXPECTED = {
    "query csv (default format)": ("csv", "query.csv"),
    "query json": ("json", "query.json"),
    "query xls": ("xls", "big.xlsx"),
    "query parquet": ("parquet", "query.parquet"),
    "table csv": ("csv", "c.csv"),
    "table json": ("json", "cities.json"),
    "table xls": ("xls", "cities.xlsx"),
    "table parquet": ("parquet", "c.parquet"),
}


def fetch(url: str, path: Path) -> int:
    """GET ``url`` into ``path`` with curl (urllib without it), no key; the HTTP status."""
    if shutil.which("curl"):
        done = subprocess.run(
            ["curl", "-sS", "-o", str(path), "-w", "%{http_code}", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            path.write_bytes(response.read())
            return int(response.status)
    except urllib.error.HTTPError as error:
        path.write_bytes(error.read())
        return error.code


def rows_of(export_format: str, data: bytes) -> list[tuple[Any, ...]]:
    if export_format == "csv":
        lines = data.decode().splitlines()
        assert lines[0] == "name,population"
        return [(name, int(n)) for name, n in (line.split(",") for line in lines[1:])]
    if export_format == "json":
        return [(row["name"], row["population"]) for row in json.loads(data)]
    if export_format == "xls":
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        header, *body = list(sheet.iter_rows(values_only=True))
        assert header == ("name", "population")
        return [tuple(row) for row in body]
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["name", "population"]
    return list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def test_original_2_2_1_exports_download_without_a_key(
    original_python: str, server: Server, tmp_path: Path
) -> None:
    key = server.create_user("legacyexport")
    result = run_original(
        original_python, HERE / "original_export.py", server.api_url, key, "exports"
    )
    assert set(result) == set(EXPECTED)
    for label, (export_format, file_name) in EXPECTED.items():
        created, done = result[label]["created"], result[label]["done"]
        # The 201 body: an ExportJob as created (contract §2.4).
        assert set(created) >= JOB_KEYS, label
        assert created["state"] == "RECEIVED" and created["retries"] == 0, label
        assert created["download_url"] is None and created["date_finished"] is None, label
        assert created["export_format"] == export_format, label
        assert created["file_name"] == file_name, label
        assert created["status_url"] == f"{server.api_url}/export/{created['id']}", label

        assert done["state"] == "DONE", (label, done)
        assert done["id"] == created["id"] and done["error_type"] is None, label
        path = tmp_path / file_name
        assert fetch(done["download_url"], path) == 200, (label, path.read_bytes()[:300])
        assert path.stat().st_size == done["result"]["size_bytes"], label
        assert sorted(rows_of(export_format, path.read_bytes())) == sorted(ROWS), label

    # The signature covers the job and the expiry: a changed link is refused, in JSON.
    url = result["query json"]["done"]["download_url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert fetch(tampered, tmp_path / "refused") == 403
    body = json.loads((tmp_path / "refused").read_text())
    assert body["status_code"] == 403 and body["error_id"]
