"""``bit import``, ``bit export`` and their status commands: thin wrappers over the SDK jobs."""

from __future__ import annotations

from typing import BinaryIO

import click

from bitdotio.cli._options import database_option, echo_json, pass_sdk
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._client import ExportFormat, InferHeader

__all__ = ["export_data", "export_status", "import_data", "import_status"]


@click.command("import")
@database_option("Name of the database to import into")
@click.option("-t", "--table", "table_name", required=True, help="Table to import into")
@click.option("-s", "--schema", "schema_name", help="Schema of the table  [server default: public]")
@click.option(
    "--infer-header",
    type=click.Choice(["auto", "first_row", "no_header"]),
    help="Whether the first row is a header  [server default: auto]",
)
@click.option("-f", "--file", type=click.File("rb"), help="A file to upload. Use - for stdin.")
@click.option("-u", "--url", "file_url", help="A URL the server downloads the file from")
@pass_sdk
def import_data(
    sdk: BitdotioClient,
    database: str,
    table_name: str,
    schema_name: str | None,
    infer_header: InferHeader | None,
    file: BinaryIO | None,
    file_url: str | None,
) -> None:
    """Start an import job (CSV, JSON, Excel or SQLite) and print it as JSON."""
    if (file is None) == (file_url is None):
        raise click.UsageError("Exactly one of --file or --url is required")
    job = sdk.create_import_job(
        database,
        table_name,
        schema_name=schema_name,
        infer_header=infer_header,
        file=file,
        file_url=file_url,
    )
    echo_json(job)


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
