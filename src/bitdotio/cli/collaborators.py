"""``bit db collaborators list|set|remove``: who holds which role on a database (beyond 2.2.1;
bit.io managed collaborators in its web console only)."""

from __future__ import annotations

import click

from bitdotio.cli._options import database_option, echo_json, pass_sdk, role_option
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._validation import COLLABORATOR_ROLES, CollaboratorRole

__all__ = ["collaborators"]

username_option = click.option("-u", "--username", required=True, help="The collaborator")


@click.group("collaborators")
def collaborators() -> None:
    """List, add, change and remove a database's collaborators."""


@collaborators.command("list")
@database_option("Name of the database, owner/name")
@pass_sdk
def list_collaborators(sdk: BitdotioClient, database: str) -> None:
    """Print the users with a role on the database, the owner included, as a JSON array."""
    echo_json(sdk.list_collaborators(database))


@collaborators.command("set")
@database_option("Name of the database, owner/name")
@username_option
@role_option("The role to give; OWNER transfers the database", COLLABORATOR_ROLES)
@pass_sdk
def set_collaborator(
    sdk: BitdotioClient, database: str, username: str, role: CollaboratorRole
) -> None:
    """Give a user a role on the database, or change theirs; print the collaborator as JSON."""
    echo_json(sdk.set_collaborator(database, username, role))


@collaborators.command("remove")
@database_option("Name of the database, owner/name")
@username_option
@pass_sdk
def remove_collaborator(sdk: BitdotioClient, database: str, username: str) -> None:
    """Take a user's role on the database away (you may remove yourself); print null."""
    sdk.remove_collaborator(database, username)
    echo_json(None)
