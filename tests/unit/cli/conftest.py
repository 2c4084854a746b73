"""Helpers for CLI tests: run ``bit`` in-process as the console script would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from bitdotio.cli import bit

Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        # main() passes the same prog_name and prefix (contract §6.2).
        return CliRunner().invoke(
            bit, list(args), env=env, input=input, prog_name="bit", auto_envvar_prefix="BITIO"
        )

    return run
