"""``bit db list|create|info|update|delete``: 2.2.1's commands, help texts and output (§6);
and ``bit db collaborators``, beyond 2.2.1."""

from __future__ import annotations

import click

from bitdotio.cli._options import database_option, echo_json, pass_sdk
from bitdotio.cli.collaborators import collaborators
from bitdotio.sdk import BitdotioClient

__all__ = ["db"]

# 2.2.1's db commands had no docstrings, so their help shows no description; keep it so.


@click.group("db")
def db() -> None:
    pass


@db.command("list")
@pass_sdk
def list_databases(sdk: BitdotioClient) -> None:
    echo_json(sdk.list_databases())


@db.command("create")
@click.option("-n", "--name", required=True, help="The database name")
@click.option(
    "-p",
    "--is_private",
    show_default=True,
    default=True,
    help="Whether or not the database is set to private",
)
@pass_sdk
def create_database(sdk: BitdotioClient, name: str, is_private: bool) -> None:
    echo_json(sdk.create_database(name, is_private=is_private))


@db.command("info")
@database_option("Name of the database to show")
@pass_sdk
def database_info(sdk: BitdotioClient, database: str) -> None:
    echo_json(sdk.get_database(database))


@db.command("update")
@database_option("Name of the database to show")
@click.option("-n", "--name", required=False, default=None, help="New name for the database")
# Untyped on purpose: 2.2.1 sent the raw string, e.g. "is_private": "false" (§3.5).
@click.option(
    "-p",
    "--is_private",
    required=False,
    default=None,
    help="Whether or not the database is set to private",
)
@pass_sdk
def update_database(
    sdk: BitdotioClient, database: str, name: str | None, is_private: str | None
) -> None:
    echo_json(sdk.update_database(database, name=name, is_private=is_private))


@db.command("delete")
@database_option("Name of the database to show")
@pass_sdk
def delete_database(sdk: BitdotioClient, database: str) -> None:
    sdk.delete_database(database)
    click.echo(f"Successfully deleted database: {database}")


db.add_command(collaborators)
