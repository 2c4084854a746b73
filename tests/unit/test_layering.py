"""Imports point down (style.md "Dependency rule"), and only config.py reads the environment."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "bitdotio"

# package -> the bitdotio packages/modules its module-level imports may name
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "errors": set(),
    "sdk": {"config", "sdk", "_version"},
    "cli": {"config", "sdk", "cli", "_version", "errors"},
    "catalog": {"config", "errors", "catalog"},
    "cluster": {"config", "errors", "catalog", "cluster"},
    "proxy": {"config", "errors", "catalog", "cluster", "proxy"},
    "storage": set(),
    "column_names": set(),
    "imports": {"config", "errors", "imports", "_version"},
    "exports": {"config", "errors", "column_names", "exports"},
    "jobs": {"config", "errors", "catalog", "cluster", "imports", "exports", "storage", "jobs"},
    "server": {
        "config",
        "errors",
        "catalog",
        "cluster",
        "proxy",
        "jobs",
        "exports",
        "column_names",
        "storage",
        "server",
        "_version",
    },
}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _top_level_imports(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:  # module level only: commands may import the server lazily
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    part = path.relative_to(SRC).parts[0].removesuffix(".py")
    if part not in ALLOWED:
        return
    tree = ast.parse(path.read_text())
    for name in _top_level_imports(tree):
        if name.startswith("bitdotio."):
            target = name.split(".")[1]
            assert target in ALLOWED[part], f"{path.name}: {part} must not import {name}"
        elif part in ("config", "errors"):
            root = name.split(".")[0]
            assert root in sys.stdlib_module_names or root == "__future__", (
                f"{path.name} must import only the standard library, not {name}"
            )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_only_config_reads_the_environment(path: Path) -> None:
    if path == SRC / "config.py":
        return
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            pytest.fail(f"{path.relative_to(SRC)}:{node.lineno} reads os.{node.attr}")
