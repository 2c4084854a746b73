"""Unit tests run on defaults, whatever the developer's shell exports."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_bitio_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or setting leaks in from the environment."""
    for name in list(os.environ):
        if name.startswith("BITIO_"):
            monkeypatch.delenv(name)
