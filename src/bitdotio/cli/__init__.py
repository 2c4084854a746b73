"""The ``bit`` command: 2.2.1's ``db`` and ``query`` plus jobs, keys, ``serve`` and ``admin``.

Exit codes follow 2.2.1 (contract §6.3): 0 success; 2 usage errors on stderr; 3 any other
error, its text on stdout.
"""

from __future__ import annotations

from typing import Any

import click

from bitdotio._version import __version__
from bitdotio.cli._options import CliState
from bitdotio.cli.admin import admin
from bitdotio.cli.db import db
from bitdotio.cli.keys import key, service_account
from bitdotio.cli.query import query
from bitdotio.cli.serve import serve
from bitdotio.cli.transfer import export_data, export_status, import_data, import_status

__all__ = ["bit", "main"]


class _BitGroup(click.Group):
    """Turns any non-click exception into its text on stdout and exit 3, as 2.2.1's main()."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            click.echo(str(exc))
            ctx.exit(3)


@click.group("bit", cls=_BitGroup)
@click.option(
    "-k",
    "--key",
    required=False,
    help="Your bit.io API key, available when you click the connect button in bit.io",
)
@click.version_option(__version__, "-v", "--version", help="Print bit version and exit")
@click.pass_context
def bit(ctx: click.Context, key: str | None) -> None:
    # No docstring: 2.2.1's `bit --help` had no description. The SDK object is built only
    # when a command needs it, so help and keyless commands run without a key (§6.1).
    ctx.obj = CliState(key)


for _command in (
    query,
    db,
    import_data,
    export_data,
    import_status,
    export_status,
    key,
    service_account,
    serve,
    admin,
):
    bit.add_command(_command)


def main() -> None:
    """Console-script entry point; ``BITIO_`` prefixes every option's env variable (§6.2)."""
    bit.main(prog_name="bit", auto_envvar_prefix="BITIO")
