"""``bit query``: one SQL statement over the HTTP API, printed as one line of JSON (§6)."""

from __future__ import annotations

from typing import TextIO

import click

from bitdotio.cli._options import database_option, echo_json, pass_sdk
from bitdotio.sdk import BitdotioClient

__all__ = ["query"]


@click.command("query")
@database_option("Name of the database to query")
@click.option("-q", "--query", required=False, help="The SQL to run.")
@click.option(
    "-qf",
    "--query_file",
    required=False,
    type=click.File("r"),
    help="A SQL file to run, containing a single query. Use - for stdin.",
)
@click.option(
    "-o",
    "--objects",
    is_flag=True,
    help="Return data as an array of JSON objects instead of row arrays",
)
@pass_sdk
def query(
    sdk: BitdotioClient,
    database: str,
    query: str | None,
    query_file: TextIO | None,
    objects: bool,
) -> None:
    # -q wins over -qf; a file keeps its trailing newline (§3.5).
    if query:
        query_string = query
    elif query_file:
        query_string = query_file.read()
    else:
        raise click.UsageError("One of --query or --query_file is required")
    data_format = "objects" if objects else None
    echo_json(sdk.query(database, query_string, data_format=data_format))
