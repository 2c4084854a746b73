"""The settings registry: every ``BITIO_*`` setting, and the only reader of the environment.

Precedence is environment (``BITIO_<NAME>``) > settings file > default. The settings file is a
TOML file named by ``BITIO_CONFIG_FILE`` (or passed explicitly); its keys are the setting names
(``http-port = 8080``). Standard library only: the SDK and the CLI import this module too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SETTINGS", "ConfigError", "Setting", "Settings", "env_name", "load", "read_env"]


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected one of 1/0, true/false, yes/no, on/off, got {value!r}")


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _positive_int(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive integer, got {value!r}")
    return number


def _port(value: Any) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"must be a TCP port (0-65535), got {value!r}")
    return number


def _positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"must be a positive number, got {value!r}")
    return number


def _choice(*allowed: str) -> Callable[[Any], str]:
    def cast(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return cast


def default_data_dir() -> str:
    """``/var/lib/bitio`` for root (a system service), else the user's XDG data home."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/bitio"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "bitio")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    cast: Callable[[Any], Any] = str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    # --- where the platform lives
    Setting(
        "data-dir",
        None,
        "Directory for the embedded Postgres, files and the TLS "
        "certificate. Default: /var/lib/bitio as root, else $XDG_DATA_HOME/bitio.",
        _optional_str,
    ),
    Setting("host", "127.0.0.1", "Address the HTTP API and the Postgres endpoint listen on."),
    Setting("http-port", 8080, "TCP port of the HTTP API.", _port),
    Setting("pg-port", 5433, "TCP port of the Postgres endpoint.", _port),
    Setting(
        "public-url",
        None,
        "Absolute base URL clients reach the API at, used in "
        "status_url. Default: http://<host>:<http-port>.",
        _optional_str,
    ),
    Setting("log-level", "info", "Log level: debug, info, warning or error."),
    # --- the Postgres that holds the catalog and the user databases
    Setting(
        "database-url",
        None,
        "Use this existing Postgres (a role with CREATEDB and "
        "CREATEROLE) instead of the embedded one. Tenant roles connect to the same "
        "host without a password: pg_hba must admit them (see docs).",
        _optional_str,
        secret=True,
    ),
    Setting(
        "pg-bindir",
        None,
        "Directory holding initdb, pg_ctl and postgres for the embedded server.",
        _optional_str,
    ),
    Setting(
        "pg-system-user",
        "bitio-postgres",
        "Unprivileged system user the embedded "
        "Postgres runs as when the platform runs as root (created if missing).",
    ),
    Setting("pg-max-connections", 200, "max_connections of the embedded Postgres.", _positive_int),
    Setting("pg-fsync", True, "fsync of the embedded Postgres; only tests turn it off.", _bool),
    Setting("catalog-database", "bitio_catalog", "Name of the control-plane database."),
    # --- limits, with bit.io's values as defaults
    Setting(
        "storage-limit-default-bytes",
        3221225472,
        "storage_limit_bytes of a new database when the request names none (3 GiB).",
        _positive_int,
    ),
    Setting(
        "storage-limit-max-bytes",
        10737418240,
        "Largest storage_limit_bytes; larger requests are clamped (10 GiB).",
        _positive_int,
    ),
    Setting(
        "name-reservation-days",
        30,
        "Days a deleted name stays reserved and a "
        "renamed database stays reachable under its old name.",
        int,
    ),
    Setting(
        "query-timeout-s", 30.0, "statement_timeout of one /v2beta/query call.", _positive_float
    ),
    Setting(
        "query-max-bytes",
        16777216,
        "Largest /v2beta/query result (16 MiB); a larger "
        "one is an error, never a truncated answer.",
        _positive_int,
    ),
    Setting(
        "http-max-body-bytes",
        16777216,
        "Largest HTTP request body (16 MiB); a larger one is answered 413.",
        _positive_int,
    ),
    Setting(
        "tenant-pool-size",
        4,
        "Pooled connections per (database, principal) the HTTP API keeps.",
        _positive_int,
    ),
    Setting("catalog-pool-size", 8, "Pooled connections to the catalog database.", _positive_int),
    # --- the Postgres endpoint (proxy), with bit.io's lifecycle values as defaults
    Setting(
        "tls-cert",
        None,
        "PEM certificate (chain) the Postgres endpoint presents. Default: a "
        "self-signed one generated into <data-dir>/tls on first start.",
        _optional_str,
    ),
    Setting("tls-key", None, "PEM private key of tls-cert.", _optional_str),
    Setting(
        "proxy-connection-limit",
        50,
        "Client connections per database through the Postgres endpoint.",
        _positive_int,
    ),
    Setting(
        "proxy-idle-timeout-s",
        300.0,
        "Close an endpoint connection idle this long, in a transaction or not (5 min).",
        _positive_float,
    ),
    Setting(
        "proxy-max-lifetime-s",
        3600.0,
        "Close an endpoint connection this old, at its next transaction end (60 min).",
        _positive_float,
    ),
    Setting(
        "proxy-shutdown-grace-s",
        30.0,
        "On shutdown, how long open transactions may run before their connections are cut.",
        _positive_float,
    ),
    Setting(
        "proxy-handshake-timeout-s",
        10.0,
        "Time a client has from connecting to being authenticated.",
        _positive_float,
    ),
    Setting(
        "proxy-failed-logins-per-minute",
        20,
        "Failed logins and unmatched cancel requests one client address may make per minute "
        "before the endpoint refuses it for the rest of the minute.",
        _positive_int,
    ),
    Setting(
        "proxy-unauthenticated-per-ip",
        64,
        "Connections one client address may hold open before authenticating.",
        _positive_int,
    ),
    # --- jobs: imports and exports
    Setting(
        "storage-dir",
        None,
        "Where uploads and exports are kept. Default: <data-dir>/files. Workers on other "
        "machines need the same directory (a shared file system).",
        _optional_str,
    ),
    Setting(
        "components",
        "all",
        "What bit serve runs: all; api (the HTTP API and the Postgres endpoint, no jobs); or "
        "worker (jobs only, for more machines).",
        _choice("all", "api", "worker"),
    ),
    Setting(
        "worker-concurrency",
        2,
        "Jobs one worker process runs at the same time.",
        _positive_int,
    ),
    Setting(
        "worker-heartbeat-s",
        10.0,
        "How often a worker tells the job queue it is alive.",
        _positive_float,
    ),
    Setting(
        "worker-stalled-after-s",
        30.0,
        "A running job whose worker sent no heartbeat for this long is started again.",
        _positive_float,
    ),
    Setting(
        "import-max-upload-bytes",
        5 * 1024**3,
        "Largest file an import may upload (413 above it).",
        _positive_int,
    ),
    Setting(
        "import-url-max-bytes",
        5 * 1024**3,
        "Largest file an import may download from file_url (after decompression).",
        _positive_int,
    ),
    Setting(
        "import-url-timeout-s",
        600.0,
        "Time a file_url download may take in all, redirects included.",
        _positive_float,
    ),
    Setting(
        "import-allow-private-urls",
        False,
        "Let file_url reach loopback, private and link-local addresses. Only for tests and "
        "closed networks: it lets API users reach services next to the server.",
        _bool,
    ),
    Setting(
        "import-timeout-s",
        3600.0,
        "statement_timeout of each statement that loads an import.",
        _positive_float,
    ),
    Setting(
        "import-copy-streams",
        2,
        "Parallel COPY connections that load a table an import creates (Postgres parses COPY "
        "input on one core per connection).",
        _positive_int,
    ),
    Setting(
        "import-max-columns",
        1600,
        "Most columns an imported table may have (Postgres allows 1600).",
        _positive_int,
    ),
    Setting(
        "import-max-field-bytes",
        10 * 1024 * 1024,
        "Largest single value (a CSV field, a SQLite text or blob) an import accepts.",
        _positive_int,
    ),
    Setting(
        "import-max-tables",
        100,
        "Most tables one import may create (sheets, SQLite tables, ZIP members).",
        _positive_int,
    ),
    Setting(
        "import-sqlite-timeout-s",
        60.0,
        "CPU time the process that reads an uploaded SQLite file may use.",
        _positive_float,
    ),
    Setting(
        "import-sqlite-max-memory-bytes",
        1024**3,
        "Address-space limit of the process that reads an uploaded SQLite file.",
        _positive_int,
    ),
    Setting(
        "import-workbook-timeout-s",
        120.0,
        "CPU time the process that reads an uploaded XLSX, XLS or ODS file may use.",
        _positive_float,
    ),
    Setting(
        "import-workbook-max-memory-bytes",
        2 * 1024**3,
        "Address-space limit of the process that reads an uploaded XLSX, XLS or ODS file.",
        _positive_int,
    ),
    Setting(
        "import-zip-max-members",
        100,
        "Most files a ZIP import may contain.",
        _positive_int,
    ),
    Setting(
        "import-zip-max-ratio",
        200,
        "Largest uncompressed/compressed size ratio of one member of a ZIP, XLSX or ODS file.",
        _positive_int,
    ),
    Setting(
        "import-zip-max-total-bytes",
        8 * 1024**3,
        "Largest total uncompressed size of a ZIP, XLSX or ODS file.",
        _positive_int,
    ),
    Setting(
        "job-retention-days",
        30,
        "Days a finished job stays visible; uploads are deleted as soon as their job ends.",
        _positive_int,
    ),
    Setting(
        "export-timeout-s",
        3600.0,
        "statement_timeout of an export's query: a longer export fails with QueryTimeout.",
        _positive_float,
    ),
    Setting(
        "export-link-lifetime-s",
        86400.0,
        "Seconds an export's download_url works (24 h); the file is deleted after that.",
        _positive_float,
    ),
    Setting(
        "download-signing-key",
        None,
        "Secret that signs download links. Default: a random key kept in the catalog, shared "
        "by every API process of that catalog.",
        _optional_str,
        secret=True,
    ),
    # --- the SDK and the CLI (client side)
    Setting("api-url", "http://127.0.0.1:8080/v2beta", "SDK and CLI: base URL of the HTTP API."),
    Setting("db-host", "127.0.0.1", "SDK: host of the Postgres endpoint."),
    Setting("db-port", 5433, "SDK: port of the Postgres endpoint.", _port),
    Setting(
        "http-timeout-s",
        300.0,
        "SDK: read timeout of one HTTP call (connect: 10 s).",
        _positive_float,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """A setting's default, for code that needs it without loading the settings."""
    return _BY_NAME[name].default


def env_name(name: str) -> str:
    """``http-port`` -> ``BITIO_HTTP_PORT``."""
    return "BITIO_" + name.upper().replace("-", "_")


def default_env(values: Mapping[str, str]) -> None:
    """Defaults for libraries tuned only through environment variables (polars's CSV reader in
    the job worker); a value the operator set wins."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def read_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """One raw environment variable; the CLI uses this for ``BITIO_KEY``."""
    return (os.environ if environ is None else environ).get(name)


class Settings:
    """Resolved settings; attribute names are the setting names with ``_`` for ``-``."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._values[attr.replace("_", "-")]
        except KeyError:
            raise AttributeError(attr) from None

    def replace(self, **changes: Any) -> Settings:
        values = dict(self._values)
        for attr, value in changes.items():
            name = attr.replace("_", "-")
            if name not in _BY_NAME:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = _cast(_BY_NAME[name], value, "argument")
        return Settings(values)

    def __repr__(self) -> str:
        shown = {
            k: ("****" if _BY_NAME[k].secret and v is not None else v)
            for k, v in self._values.items()
        }
        return f"Settings({shown})"


def _cast(setting: Setting, raw: Any, source: str) -> Any:
    if raw is None:
        return None
    try:
        return setting.cast(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {setting.name} (from {source}): {exc}") from None


def load(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Resolve every setting: ``overrides`` (CLI flags) > env > file > default."""
    env = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    path = config_file or env.get("BITIO_CONFIG_FILE")
    if path:
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"settings file {path}: {exc}") from None
        unknown = set(file_values) - set(_BY_NAME)
        if unknown:
            raise ConfigError(f"settings file {path}: unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        key = env_name(setting.name)
        if overrides and overrides.get(setting.name) is not None:
            values[setting.name] = _cast(setting, overrides[setting.name], "argument")
        elif env.get(key) not in (None, ""):
            values[setting.name] = _cast(setting, env[key], key)
        elif setting.name in file_values:
            values[setting.name] = _cast(setting, file_values[setting.name], str(path))
        else:
            values[setting.name] = setting.default
    if values["data-dir"] is None:
        values["data-dir"] = default_data_dir()
    return Settings(values)
