"""Versioned, forward-only migrations: ``migrations/NNNN_name.sql``, applied in order, once."""

from __future__ import annotations

import logging
import re
from importlib import resources

import psycopg

__all__ = ["migrate", "pending"]

log = logging.getLogger("bitdotio.catalog")

_LOCK_ID = 0x62697469  # "biti": serialises concurrent starts against one catalog


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("bitdotio.catalog.migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


async def pending(conn: psycopg.AsyncConnection) -> list[str]:
    applied = await _applied(conn)
    return [name for version, name, _ in _migrations() if version not in applied]


async def _applied(conn: psycopg.AsyncConnection) -> set[int]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    cur = await conn.execute("SELECT version FROM schema_migrations")
    return {row[0] for row in await cur.fetchall()}


async def migrate(conn: psycopg.AsyncConnection) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names."""
    done: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        applied = await _applied(conn)
        for version, name, text in _migrations():
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(text.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    [version, name],
                )
            log.info("applied catalog migration %s", name)
            done.append(name)
    return done
