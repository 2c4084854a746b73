"""``bit import``, ``bit export`` and their status commands: thin wrappers over the SDK jobs."""

from __future__ import annotations

import functools
import io
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import click
import requests

from bitdotio.cli._options import database_option, echo_json, pass_sdk
from bitdotio.sdk import ApiError, BitdotioClient
from bitdotio.sdk._client import ExportFormat, InferHeader
from bitdotio.sdk._download import download_to_file, download_to_path
from bitdotio.sdk._http import CLI_USER_AGENT

__all__ = ["export_data", "export_status", "import_data", "import_status"]

_FINAL_STATES = ("DONE", "FAILED")


class _ProgressReader:
    """A binary file whose reads advance a progress bar on stderr (stdout stays JSON)."""

    def __init__(self, file: BinaryIO, bar: Any) -> None:
        self._file = file
        self._bar = bar

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._bar.update(len(chunk))
        return chunk

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)


def _size(file: BinaryIO) -> int | None:
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _wait(sdk: BitdotioClient, get: Callable[[str], Any], job: Any) -> Any:
    """Poll until DONE or FAILED: every 0.2 s at first, backing off to every 2 s."""
    delay = 0.2
    while job.get("state") not in _FINAL_STATES:
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
        job = get(job["id"])
    return job


def _finish(job: Any, *, err: bool = False) -> None:
    """Print the job (on stderr with ``err``); exit 1 if it FAILED."""
    echo_json(job, err=err)
    if job.get("state") == "FAILED":
        raise click.exceptions.Exit(1)


@click.command("import")
@database_option("Name of the database to import into")
@click.option("-t", "--table", "table_name", required=True, help="Table to import into")
@click.option("-s", "--schema", "schema_name", help="Schema of the table  [server default: public]")
@click.option(
    "--header",
    "infer_header",
    type=click.Choice(["auto", "first_row", "no_header"]),
    help="Whether the first row is a header  [server default: auto]",
)
@click.option("-u", "--url", "file_url", help="A URL the server downloads the file from")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the job to end")
@click.argument("file", type=click.File("rb"), required=False)
@pass_sdk
def import_data(
    sdk: BitdotioClient,
    database: str,
    table_name: str,
    schema_name: str | None,
    infer_header: InferHeader | None,
    file_url: str | None,
    wait: bool,
    file: BinaryIO | None,
) -> None:
    """Import FILE (CSV, JSON, Excel, ODS, SQLite, Parquet or a ZIP of them; - for stdin), or
    the file at --url, into a table. Prints the job as JSON: the final one unless --no-wait;
    exits 1 if the import FAILED."""
    if (file is None) == (file_url is None):
        raise click.UsageError("Give exactly one of FILE or --url")
    start = functools.partial(
        sdk.create_import_job,
        database,
        table_name,
        schema_name=schema_name,
        infer_header=infer_header,
    )
    if file is None:
        job = start(file_url=file_url)
    else:
        with click.progressbar(
            length=_size(file) or 0, label="Uploading", file=sys.stderr, show_eta=True
        ) as bar:
            job = start(file=_ProgressReader(file, bar))  # type: ignore[arg-type]
    _finish(_wait(sdk, sdk.get_import_job, job) if wait else job)


class _ExportError(click.ClickException):
    """A download or output-file problem. ``Error: ...`` goes to stderr, since stdout may be
    the file itself; exit 3, like every error that is not a usage error (contract §6.3)."""

    exit_code = 3


class _DownloadBar:
    """A progress bar on stderr, drawn once the download's size (Content-Length) is known."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._bar: Any = None
        self._shown_bytes = 0

    def __enter__(self) -> _DownloadBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def update(self, done_bytes: int, total_bytes: int | None) -> None:
        if self._bar is None:
            self._bar = self._stack.enter_context(
                click.progressbar(
                    length=total_bytes or 0, label="Downloading", file=sys.stderr, show_eta=True
                )
            )
        self._bar.update(done_bytes - self._shown_bytes)
        self._shown_bytes = done_bytes


def _checked(target: Path, *, overwrite: bool) -> Path:
    if not target.parent.is_dir():
        raise _ExportError(f"{target.parent} is not a directory")
    if not overwrite and target.exists():
        raise _ExportError(f"{target} already exists; use --force to overwrite it")
    return target


def _named_by_job(directory: str | None, job: Any) -> Path:
    """The job's file name in ``directory`` (default: the current one)."""
    name = job.get("file_name") or ""
    # The name comes from the server: it must not choose another directory.
    if name in ("", ".", "..") or "\x00" in name or os.path.basename(name) != name:
        raise _ExportError(f"The export's file name {name!r} is unusable; choose one with -o")
    return Path(directory or ".") / name


def _reason(exc: Exception) -> str:
    if isinstance(exc, ApiError) and isinstance(exc.data, dict) and exc.data.get("message"):
        return f"HTTP {exc.status_code}: {exc.data['message']}"
    return str(exc) or type(exc).__name__


def _download(job: Any, target: Path | None, *, overwrite: bool) -> None:
    """Save a DONE job's file to ``target``, or write it to stdout when ``target`` is None.

    The link is fetched without the API key; a partial file never replaces ``target``.
    """
    url = job.get("download_url")
    if not url:
        raise _ExportError(f"Export {job['id']} is DONE but has no download_url")
    try:
        with _DownloadBar() as bar:
            if target is None:
                stdout = sys.stdout.buffer
                download_to_file(url, stdout, progress=bar.update, user_agent=CLI_USER_AGENT)
                stdout.flush()
                return
            size_bytes = download_to_path(
                url, target, overwrite=overwrite, progress=bar.update, user_agent=CLI_USER_AGENT
            )
    except FileExistsError as exc:
        raise _ExportError(f"{exc}; use --force to overwrite it") from None
    except (ApiError, requests.RequestException, OSError) as exc:
        raise _ExportError(f"Downloading export {job['id']} failed: {_reason(exc)}") from None
    click.echo(f"Saved {target} ({size_bytes} bytes)", err=True)


@click.command("export")
@database_option("Name of the database to export from")
@click.option("-q", "--query", "query_string", help="A query whose result to export")
@click.option("-t", "--table", "table_name", help="A table to export")
@click.option("-s", "--schema", "schema_name", help="Schema of the table  [default: public]")
@click.option(
    "-f",
    "--format",
    "export_format",
    type=click.Choice(["csv", "json", "xls", "parquet"]),
    default="csv",
    show_default=True,
    help="File format (xls is an .xlsx workbook)",
)
@click.option(
    "--file-name", help="Name the server gives the file  [default: <table or query>.<ext>]"
)
@click.option(
    "--no-escape-formulas",
    is_flag=True,
    help="CSV: write text cells starting with = + - @, a tab or CR as they are, without a "
    "leading '",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),
    help="File to save to, or a directory for the job's file name; - for stdout (the job JSON "
    "then goes to stderr)  [default: ./<file name>]",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the job and download the file",
)
@pass_sdk
def export_data(
    sdk: BitdotioClient,
    database: str,
    query_string: str | None,
    table_name: str | None,
    schema_name: str | None,
    export_format: ExportFormat,
    file_name: str | None,
    no_escape_formulas: bool,
    output: str | None,
    force: bool,
    wait: bool,
) -> None:
    """Export a query's result or a table to a file: wait for the job, download the file with
    a progress bar on stderr, and print the final job as JSON; exit 1 if the export FAILED.
    With --no-wait, print the job as created and exit."""
    if bool(query_string) == bool(table_name):
        raise click.UsageError("Exactly one of --query or --table is required")
    if not wait and (output is not None or force):
        raise click.UsageError("--output and --force need the download: drop --no-wait")
    to_stdout = output == "-"
    target = None
    if output is not None and not to_stdout and not os.path.isdir(output):
        target = _checked(Path(output), overwrite=force)  # before starting a job for nothing
    job = sdk.create_export_job(
        database,
        query_string=query_string,
        table_name=table_name,
        schema_name=schema_name,
        file_name=file_name,
        export_format=export_format,
        escape_formulas=False if no_escape_formulas else None,
    )
    if not wait:
        echo_json(job)
        return
    if target is None and not to_stdout:
        target = _checked(_named_by_job(output, job), overwrite=force)
    job = _wait(sdk, sdk.get_export_job, job)
    if job.get("state") == "DONE":
        _download(job, target, overwrite=force)
    _finish(job, err=to_stdout)


@click.command("import-status")
@click.argument("import_id")
@pass_sdk
def import_status(sdk: BitdotioClient, import_id: str) -> None:
    """Print an import job as JSON."""
    echo_json(sdk.get_import_job(import_id))


@click.command("export-status")
@click.argument("export_id")
@pass_sdk
def export_status(sdk: BitdotioClient, export_id: str) -> None:
    """Print an export job as JSON, with download_url once it is DONE."""
    echo_json(sdk.get_export_job(export_id))
