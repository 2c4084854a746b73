"""``bit serve``: run the platform. Needs no key; server code is imported inside the command.

The server extra (FastAPI, psycopg 3, ...) is optional, so nothing here may import it at module
level: ``bit --help`` and the SDK commands must work without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from bitdotio import config
from bitdotio.cli._options import config_option, data_dir_option

__all__ = ["platform_errors", "serve"]


@contextmanager
def platform_errors() -> Iterator[None]:
    """Report settings and platform errors as ``Error: <message>`` on stderr, exit 3."""
    from bitdotio.errors import BitError

    try:
        yield
    except config.ConfigError as exc:
        message = str(exc)
    except BitError as exc:
        message = exc.public_message()
    else:
        return
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(3)


@click.command("serve")
@data_dir_option
@click.option("--host", help="Address to listen on (setting host).")
@click.option("--http-port", type=int, help="TCP port of the HTTP API (setting http-port).")
@click.option("--pg-port", type=int, help="TCP port of the Postgres endpoint (setting pg-port).")
@click.option(
    "--only",
    "components",
    type=click.Choice(["api", "worker"]),
    help="Run only the HTTP API and Postgres endpoint, or only a job worker "
    "(setting components; default: both).",
)
@config_option
@click.pass_context
def serve(
    ctx: click.Context,
    data_dir: str | None,
    host: str | None,
    http_port: int | None,
    pg_port: int | None,
    components: str | None,
    config_file: str | None,
) -> None:
    """Run the bit.io platform: the HTTP API and the Postgres endpoint.

    Options override BITIO_* environment variables, which override the settings file.
    """
    overrides = {
        "data-dir": data_dir,
        "host": host,
        "http-port": http_port,
        "pg-port": pg_port,
        "components": components,
    }
    with platform_errors():
        settings = config.load(overrides, config_file=config_file)
        from bitdotio.server.runner import run

        exit_code = run(settings)
    ctx.exit(exit_code)
