"""When keys were last used: noted in memory on every authentication, written in batches.

A key's ``last_used_at`` is written at most once per ``resolution_s`` (a minute) per process,
by one UPDATE every ``flush_s``; it changes nothing that authentication reads, so it does not
empty the lookup caches (migration 0005).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import keys

__all__ = ["KeyUsage"]

log = logging.getLogger("bitdotio.catalog")

_MAX_REMEMBERED = 100_000


class KeyUsage:
    def __init__(self, resolution_s: float = 60.0) -> None:
        self.resolution_s = resolution_s
        self._pending: dict[uuid.UUID, datetime] = {}
        self._noted: dict[uuid.UUID, float] = {}

    def seen(self, key_id: uuid.UUID) -> None:
        now = time.monotonic()
        if now - self._noted.get(key_id, -self.resolution_s) < self.resolution_s:
            return
        if len(self._noted) >= _MAX_REMEMBERED:
            self._noted.clear()
        self._noted[key_id] = now
        self._pending[key_id] = datetime.now(UTC)

    async def flush(self, pool: AsyncConnectionPool) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            async with pool.connection() as conn:
                await keys.touch(conn, pending)

    async def run(self, pool: AsyncConnectionPool, flush_s: float = 5.0) -> None:
        """Flush every ``flush_s`` until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(flush_s)
                try:
                    await self.flush(pool)
                except psycopg.Error as exc:
                    log.warning("could not record key use (%s)", type(exc).__name__)
        finally:
            with contextlib.suppress(psycopg.Error, RuntimeError):  # the pool may be closing
                await self.flush(pool)
