"""The settings registry: precedence, casting, masking, documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitdotio.config import SETTINGS, ConfigError, env_name, load

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference" / "configuration.md"


def test_env_names_are_derived() -> None:
    assert env_name("http-port") == "BITIO_HTTP_PORT"


def test_precedence_argument_env_file_default(tmp_path: Path) -> None:
    conf = tmp_path / "bitio.toml"
    conf.write_text('http-port = 7000\nhost = "0.0.0.0"\nquery-timeout-s = 5\n')
    env = {"BITIO_HTTP_PORT": "7100", "BITIO_CONFIG_FILE": str(conf)}
    settings = load({"http-port": None}, environ=env)
    assert settings.http_port == 7100
    assert settings.host == "0.0.0.0"
    assert settings.query_timeout_s == 5.0
    assert settings.pg_port == 5433
    assert load({"http-port": 7200}, environ=env).http_port == 7200


def test_bad_values_fail_fast_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http-port"):
        load(environ={"BITIO_HTTP_PORT": "eighty"})
    with pytest.raises(ConfigError, match="pg-fsync"):
        load(environ={"BITIO_PG_FSYNC": "maybe"})
    conf = tmp_path / "bad.toml"
    conf.write_text("nope = 1\n")
    with pytest.raises(ConfigError, match="unknown settings"):
        load(environ={}, config_file=str(conf))


def test_booleans_are_strict() -> None:
    assert load(environ={"BITIO_PG_FSYNC": "off"}).pg_fsync is False
    assert load(environ={"BITIO_PG_FSYNC": "1"}).pg_fsync is True


def test_secrets_are_masked_in_repr() -> None:
    settings = load(environ={"BITIO_DATABASE_URL": "postgresql://u:hunter2@h/db"})
    assert "hunter2" not in repr(settings)
    assert settings.database_url.endswith("@h/db")


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for setting in SETTINGS:
        assert f"`{env_name(setting.name)}`" in text, setting.name
