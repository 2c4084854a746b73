"""``bit admin``: operator commands run on the server host. Need no key; server code is
imported inside each command, as in ``serve.py``."""

from __future__ import annotations

import click

from bitdotio import config
from bitdotio.cli._options import config_option, data_dir_option, echo_json
from bitdotio.cli.serve import platform_errors

__all__ = ["admin"]


@click.group("admin")
def admin() -> None:
    """Operator commands, run where the platform's data directory is."""


@admin.command("create-user")
@click.argument("name")
@data_dir_option
@config_option
def create_user(name: str, data_dir: str | None, config_file: str | None) -> None:
    """Create user NAME and print its username and first API key as JSON."""
    with platform_errors():
        settings = config.load({"data-dir": data_dir}, config_file=config_file)
        from bitdotio.server.admin import create_user as create_platform_user

        credentials = create_platform_user(settings, name)
    echo_json(credentials)
