"""ImportLimits and the ``import-*`` settings are one thing: same names, same defaults."""

from __future__ import annotations

from dataclasses import replace

from bitdotio import config
from bitdotio.imports.source import ImportLimits


def test_defaults_are_the_settings_defaults() -> None:
    settings = config.load(environ={})
    assert ImportLimits.from_settings(settings, scratch_dir="/s") == replace(
        ImportLimits(), scratch_dir="/s"
    )


def test_settings_reach_the_limits() -> None:
    settings = config.load(environ={"BITIO_IMPORT_MAX_COLUMNS": "7"})
    assert ImportLimits.from_settings(settings, scratch_dir="/s").max_columns == 7
