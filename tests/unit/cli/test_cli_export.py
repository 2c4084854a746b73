"""``bit export`` without a server: the SDK calls and the download are replaced, so the tests
pin what the command sends, where its output goes and how a failed download ends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pytest

from bitdotio.cli import transfer
from bitdotio.sdk import ApiError, BitdotioClient

from .conftest import Invoke

KEY = "v2_abc"
CREATED = {"id": "j1", "state": "RECEIVED", "file_name": "q.csv", "download_url": None}
DONE = {**CREATED, "state": "DONE", "download_url": "http://files.test/j1/download?signature=s"}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of each create_export_job call; the job is DONE when polled."""
    calls: list[dict[str, Any]] = []

    def create(self: BitdotioClient, db_name: str, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return CREATED

    monkeypatch.setattr(BitdotioClient, "create_export_job", create)
    monkeypatch.setattr(BitdotioClient, "get_export_job", lambda self, export_id: DONE)
    monkeypatch.setattr(transfer.time, "sleep", lambda s: None)
    return calls


def write_file(url: str, out: IO[bytes], **kwargs: Any) -> int:
    assert url == DONE["download_url"]
    kwargs["progress"](0, 4)
    out.write(b"a,b\n")
    kwargs["progress"](4, 4)
    return 4


def test_escape_formulas_is_sent_only_when_turned_off(
    invoke: Invoke, sent: list[dict[str, Any]]
) -> None:
    for extra in ([], ["--no-escape-formulas"]):
        result = invoke("-k", KEY, "export", "-d", "a/b", "-q", "SELECT 1", "--no-wait", *extra)
        assert result.exit_code == 0, result.output
    assert [call["escape_formulas"] for call in sent] == [None, False]
    assert sent[0]["export_format"] == "csv"


def test_output_dash_writes_only_the_file_to_stdout(
    invoke: Invoke, sent: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "download_to_file", write_file)
    result = invoke("-k", KEY, "export", "-d", "a/b", "-q", "SELECT 1", "-f", "csv", "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == "a,b\n"
    assert result.stderr.startswith("Downloading")
    assert result.stderr.endswith("\n" + json.dumps(DONE) + "\n")  # the job, after the bar


def test_a_refused_download_is_one_line_on_stderr_and_exit_3(
    invoke: Invoke,
    sent: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def refuse(url: str, path: Path, **kwargs: Any) -> int:
        raise ApiError(403, {"status_code": 403, "message": "This download link has expired"})

    monkeypatch.setattr(transfer, "download_to_path", refuse)
    result = invoke("-k", KEY, "export", "-d", "a/b", "-q", "SELECT 1", "-o", str(tmp_path / "x"))
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "Error: Downloading export j1 failed: HTTP 403: This download link has expired\n"
    )


@pytest.mark.parametrize("name", ["../up.csv", "/etc/passwd", "..", ""])
def test_a_file_name_that_is_not_plain_is_not_used(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, sent: list[dict[str, Any]], name: str
) -> None:
    monkeypatch.setattr(
        BitdotioClient, "create_export_job", lambda self, *a, **k: {**CREATED, "file_name": name}
    )
    result = invoke("-k", KEY, "export", "-d", "a/b", "-q", "SELECT 1")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: The export's file name {name!r} is unusable; choose one with -o\n"
    )


def test_an_existing_output_file_is_refused_before_the_job_starts(
    invoke: Invoke, sent: list[dict[str, Any]], tmp_path: Path
) -> None:
    (tmp_path / "x.csv").write_text("mine")
    result = invoke("-k", KEY, "export", "-d", "a/b", "-t", "t", "-o", str(tmp_path / "x.csv"))
    assert result.exit_code == 3
    assert (
        result.stderr
        == f"Error: {tmp_path / 'x.csv'} already exists; use --force to overwrite it\n"
    )
    assert sent == []
    assert (tmp_path / "x.csv").read_text() == "mine"


def test_a_failed_job_with_output_dash_prints_the_job_on_stderr_and_exits_1(
    invoke: Invoke, sent: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = {**CREATED, "state": "FAILED", "error_type": "UndefinedTable", "error_id": "e1"}
    monkeypatch.setattr(BitdotioClient, "get_export_job", lambda self, export_id: failed)
    result = invoke("-k", KEY, "export", "-d", "a/b", "-q", "SELECT 1", "-o", "-")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == json.dumps(failed) + "\n"


def test_a_missing_output_directory_is_refused_before_the_job_starts(
    invoke: Invoke, sent: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = invoke("-k", KEY, "export", "-d", "a/b", "-t", "t", "-o", str(tmp_path / "no/x.csv"))
    assert result.exit_code == 3
    assert result.stderr == f"Error: {tmp_path / 'no'} is not a directory\n"
    assert sent == []
