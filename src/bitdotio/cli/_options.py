"""Shared click pieces: the lazily built SDK object, option decorators and JSON output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import click

from bitdotio import config
from bitdotio.sdk import BitdotioClient
from bitdotio.sdk._http import CLI_USER_AGENT

__all__ = [
    "MISSING_KEY_MESSAGE",
    "CliState",
    "config_option",
    "data_dir_option",
    "database_option",
    "echo_json",
    "pass_sdk",
    "role_option",
]

P = ParamSpec("P")
R = TypeVar("R")

# 2.2.1 raised click.MissingParameter without a parameter, hence "Missing None." (§6.2).
MISSING_KEY_MESSAGE = (
    "Missing None. Your bit.io key must be set either using the -k/--key argument or as the "
    "environment variable BITIO_KEY"
)


class CliState:
    """The ``bit`` group's context object: the key now, the SDK object when first needed.

    2.2.1 built the SDK in the group callback, so ``bit db --help`` needed a key (§6.1);
    building it on first use lets help and the keyless commands run without one.
    """

    def __init__(self, key: str | None = None) -> None:
        self._key = key
        self._sdk: BitdotioClient | None = None

    def sdk(self) -> BitdotioClient:
        if self._sdk is None:
            # click's auto-env skips an empty BITIO_KEY; 2.2.1 then read it itself, so that
            # BITIO_KEY= fails as "Invalid access token" with exit 3 (§6.2).
            key = self._key if self._key is not None else config.read_env("BITIO_KEY")
            if key is None:
                root = click.get_current_context().find_root()
                raise click.UsageError(MISSING_KEY_MESSAGE, ctx=root)
            self._sdk = BitdotioClient(key, user_agent=CLI_USER_AGENT)
        return self._sdk


def pass_sdk(command: Callable[Concatenate[BitdotioClient, P], R]) -> Callable[P, R]:
    """Like ``click.pass_obj``, but passes the SDK object, building it on first use."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        state = click.get_current_context().ensure_object(CliState)
        return command(state.sdk(), *args, **kwargs)

    return wrapper


def echo_json(value: Any, *, err: bool = False) -> None:
    """One line of ASCII JSON with ", " / ": " separators, as 2.2.1 printed (§6.3); on stderr
    with ``err``, when stdout carries something else."""
    click.echo(json.dumps(value), err=err)


def database_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("-d", "--database", required=True, help=help_text)


def role_option(
    help_text: str, roles: tuple[str, ...]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    # Spelled as the API spells roles; the SDK checks them the same way.
    return click.option("-r", "--role", required=True, type=click.Choice(roles), help=help_text)


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Data directory of the platform (setting data-dir).",
)
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Settings file (TOML); default: $BITIO_CONFIG_FILE.",
)
