"""Every ``bit`` command has help and a section in docs/reference/cli.md (style practice 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from bitdotio.cli import bit

CLI_DOC = (Path(__file__).parents[3] / "docs" / "reference" / "cli.md").read_text()
# 2.2.1's commands had no description; their help is the option texts alone (§6.1).
UNDESCRIBED_2_2_1 = {
    "bit",
    "bit db",
    "bit query",
    *(f"bit db {c}" for c in ("list", "create", "info", "update", "delete")),
}


def command_paths(command: click.Command, path: str = "bit") -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from command_paths(sub, f"{path} {name}")


@pytest.mark.parametrize(("path", "command"), list(command_paths(bit)), ids=lambda v: str(v))
def test_command_is_documented(path: str, command: click.Command) -> None:
    assert f"`{path}" in CLI_DOC or path == "bit"
    if path not in UNDESCRIBED_2_2_1:
        assert command.help, f"{path} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in {"help", "version"}:
            assert param.help, f"{path} {param.opts} has no help text"
