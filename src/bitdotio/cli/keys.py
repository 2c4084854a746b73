"""``bit key`` and ``bit service-account``: thin wrappers over the SDK's key methods."""

from __future__ import annotations

import click

from bitdotio.cli._options import echo_json, pass_sdk
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._validation import ROLES, Role

__all__ = ["key", "service_account"]


@click.group("key")
def key() -> None:
    """Create and revoke API keys (also the Postgres password)."""


@key.command("create")
@click.option(
    "--expires-in",
    "expires_in_s",
    type=click.IntRange(min=1),
    help="Seconds until the key stops working  [default: never]",
)
@click.option("--read-only", is_flag=True, help="The key may read but never write")
@pass_sdk
def create_key(sdk: BitdotioClient, expires_in_s: int | None, read_only: bool) -> None:
    """Create a key with your permissions and print the credentials as JSON."""
    echo_json(sdk.create_key(expires_in_s, read_only=read_only))


@key.command("list")
@pass_sdk
def list_keys(sdk: BitdotioClient) -> None:
    """Print your working keys as a JSON array: id, prefix, dates; never the keys."""
    echo_json(sdk.list_keys())


@key.command("revoke")
@click.option("--api-key", help="The key to revoke  [default: every key of yours]")
@pass_sdk
def revoke_keys(sdk: BitdotioClient, api_key: str | None) -> None:
    """Revoke one key, or without --api-key all of yours, including the one in use."""
    echo_json(sdk.revoke_keys(api_key))


@click.group("service-account")
def service_account() -> None:
    """Create, inspect and delete service accounts, and manage their keys."""


@service_account.command("create")
@click.option("-n", "--name", required=True, help="Name of the service account")
@click.option(
    "-r",
    "--role",
    type=click.Choice(ROLES),
    help="Its role on the databases that name none, at most yours",
)
@click.option(
    "-d",
    "--database",
    "databases",
    required=True,
    multiple=True,
    help="A database it may use, owner/name or owner/name=ROLE; repeat for several",
)
@pass_sdk
def create_service_account(
    sdk: BitdotioClient, name: str, role: Role | None, databases: tuple[str, ...]
) -> None:
    """Create a service account and print it as JSON; then give it a key with create-key."""
    scope: list[str | dict[str, str]] = []
    for entry in databases:
        database, sep, own = entry.partition("=")
        if not sep and role is None:
            raise click.UsageError(f"Give -r/--role, or a role for {database} (-d {database}=ROLE)")
        scope.append({"name": database, "role": own} if sep else database)
    echo_json(sdk.create_service_account(name, role, scope))


@service_account.command("list")
@pass_sdk
def list_service_accounts(sdk: BitdotioClient) -> None:
    """Print the service accounts you created as a JSON array."""
    echo_json(sdk.list_service_accounts())


@service_account.command("info")
@click.argument("service_account_id")
@pass_sdk
def service_account_info(sdk: BitdotioClient, service_account_id: str) -> None:
    """Print one service account as JSON."""
    echo_json(sdk.get_service_account(service_account_id))


@service_account.command("create-key")
@click.argument("service_account_id")
@pass_sdk
def create_service_account_key(sdk: BitdotioClient, service_account_id: str) -> None:
    """Create a key for a service account and print the credentials as JSON."""
    echo_json(sdk.create_service_account_key(service_account_id))


@service_account.command("revoke-keys")
@click.argument("service_account_id")
@pass_sdk
def revoke_service_account_keys(sdk: BitdotioClient, service_account_id: str) -> None:
    """Revoke every key of a service account."""
    echo_json(sdk.revoke_service_account_keys(service_account_id))


@service_account.command("delete")
@click.argument("service_account_id")
@pass_sdk
def delete_service_account(sdk: BitdotioClient, service_account_id: str) -> None:
    """Delete a service account; its keys stop working at once. Prints null."""
    sdk.delete_service_account(service_account_id)
    echo_json(None)
