"""``bit import``, ``bit export`` and their status commands: thin wrappers over the SDK jobs."""

from __future__ import annotations

import functools
import io
import os
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

import click

from bitdotio.cli._options import database_option, echo_json, pass_sdk
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._client import ExportFormat, InferHeader

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


def _finish(job: Any) -> None:
    """Print the job; exit 1 if it FAILED."""
    echo_json(job)
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


@click.command("export")
@database_option("Name of the database to export from")
@click.option("-q", "--query", "query_string", help="A query whose result to export")
@click.option("-t", "--table", "table_name", help="A table to export")
@click.option("-s", "--schema", "schema_name", help="Schema of the table  [default: public]")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "json", "xls", "parquet"]),
    default="csv",
    show_default=True,
    help="File format",
)
@click.option("--file-name", help="Name of the exported file")
@pass_sdk
def export_data(
    sdk: BitdotioClient,
    database: str,
    query_string: str | None,
    table_name: str | None,
    schema_name: str | None,
    export_format: ExportFormat,
    file_name: str | None,
) -> None:
    """Start an export job and print it as JSON; poll it with export-status."""
    if bool(query_string) == bool(table_name):
        raise click.UsageError("Exactly one of --query or --table is required")
    job = sdk.create_export_job(
        database,
        query_string=query_string,
        table_name=table_name,
        schema_name=schema_name,
        file_name=file_name,
        export_format=export_format,
    )
    echo_json(job)


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
