"""Helpers for CLI tests: run ``bit`` in-process as the console script would."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from bitdotio.cli import bit

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _no_bitio_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or setting leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("BITIO_"):
            monkeypatch.delenv(name)


@pytest.fixture
def invoke() -> Invoke:
    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        # main() passes the same prog_name and prefix (contract §6.2).
        return CliRunner().invoke(
            bit, list(args), env=env, input=input, prog_name="bit", auto_envvar_prefix="BITIO"
        )

    return run
