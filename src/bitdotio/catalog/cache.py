"""Cached catalog lookups for the request path: API key -> principal, name -> database.

Coherent across processes: a trigger announces every catalog change on ``bitio_catalog`` at
commit (migration 0002) and ``listen`` drops everything when one arrives; this process's own
writes drop it at once through ``invalidate``. A generation counter keeps a read that raced a
change from being stored, entries expire after ``ttl_s`` anyway, and nothing is cached while
the listener is not connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import databases, keys
from bitdotio.catalog.databases import DatabaseRecord
from bitdotio.catalog.keys import Principal
from bitdotio.catalog.names import FullName

__all__ = ["LookupCache"]

log = logging.getLogger("bitdotio.catalog")

CHANNEL = "bitio_catalog"
_MAX_ENTRIES = 10_000

T = TypeVar("T")


class LookupCache:
    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self.listening = False
        self._generation = 0
        self._entries: dict[object, tuple[float, object]] = {}

    def invalidate(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def _cached(
        self,
        key: object,
        load: Callable[[], Awaitable[T | None]],
        until: Callable[[T], datetime | None] = lambda value: None,
    ) -> T | None:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]  # type: ignore[return-value]
        generation = self._generation
        value = await load()
        if value is not None and self.listening and generation == self._generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            ttl_s = self.ttl_s
            if (end := until(value)) is not None:  # never past the value's own expiry
                ttl_s = min(ttl_s, (end - datetime.now(UTC)).total_seconds())
            self._entries[key] = (time.monotonic() + ttl_s, value)
        return value

    async def principal(self, pool: AsyncConnectionPool, key: str) -> Principal | None:
        async def load() -> Principal | None:
            async with pool.connection() as conn:
                return await keys.lookup(conn, key)

        return await self._cached(("key", keys.hash_key(key)), load, lambda p: p.expires_at)

    async def database(
        self, pool: AsyncConnectionPool, who: Principal, full: FullName
    ) -> DatabaseRecord | None:
        async def load() -> DatabaseRecord | None:
            async with pool.connection() as conn:
                return await databases.resolve(conn, who, full)

        key = ("db", who.rights_key, full.owner.lower(), full.name.lower())
        return await self._cached(key, load)

    async def listen(self, conninfo: str, retry_s: float = 1.0) -> None:
        """Run until cancelled: LISTEN for catalog changes, reconnecting when dropped."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.invalidate()
                    self.listening = True
                    async for _ in conn.notifies():
                        self.invalidate()
            except psycopg.Error as exc:
                log.warning(
                    "catalog change listener lost (%s); caching is off until it is back",
                    type(exc).__name__,
                )
            finally:
                self.listening = False
                self.invalidate()
            await asyncio.sleep(retry_s)
