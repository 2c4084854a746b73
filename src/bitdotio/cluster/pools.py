"""The only place connection pools are made: one for the catalog, one per (database, role).

Tenant pools are keyed by the principal's own role (security.md §1.5, §1.8): never a shared
role plus ``SET ROLE``. A returned tenant connection runs ``DISCARD ALL`` so no SET, LISTEN,
prepared statement, temp table or advisory lock outlives the request that made it, unless its
user already ran it as the last thing on the connection and said so (``mark_discarded``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool

from bitdotio.cluster.access import ClusterAccess

__all__ = ["Pools"]


Configure = Callable[[psycopg.AsyncConnection], Awaitable[None]]


class Pools:
    def __init__(
        self,
        access: ClusterAccess,
        *,
        catalog_size: int,
        tenant_size: int,
        configure_tenant: Configure | None = None,
    ) -> None:
        self.access = access
        self._tenant_size = tenant_size
        self._configure_tenant = configure_tenant
        self.catalog = AsyncConnectionPool(
            access.catalog(),
            min_size=1,
            max_size=catalog_size,
            open=False,
            kwargs={"autocommit": True},
            name="catalog",
        )
        self._tenant: dict[tuple[str, str, str], AsyncConnectionPool] = {}
        self._lock = asyncio.Lock()
        self._discarded: weakref.WeakSet[psycopg.AsyncConnection] = weakref.WeakSet()

    async def open(self) -> None:
        await self.catalog.open(wait=True, timeout=30)

    async def close(self) -> None:
        pools = [self.catalog, *self._tenant.values()]
        self._tenant.clear()
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)

    async def tenant(self, physical_name: str, role_name: str, group: str) -> AsyncConnectionPool:
        """The pool of connections to ``physical_name`` logged in as ``role_name``, acting as
        ``group``."""
        key = (physical_name, role_name, group)
        pool = self._tenant.get(key)
        if pool is not None:
            return pool
        async with self._lock:
            pool = self._tenant.get(key)
            if pool is None:
                pool = AsyncConnectionPool(
                    self.access.tenant(physical_name, role_name, group),
                    min_size=0,
                    max_size=self._tenant_size,
                    open=False,
                    # DISCARD ALL drops server-side prepared statements behind psycopg's
                    # back: with auto-prepare, the 6th reuse failed with SQLSTATE 26000.
                    kwargs={"autocommit": True, "prepare_threshold": None},
                    configure=self._configure_tenant,
                    reset=self._reset,
                    max_idle=60,
                    name=f"tenant:{physical_name}:{role_name}:{group}",
                )
                await pool.open()
                self._tenant[key] = pool
        return pool

    def mark_discarded(self, conn: psycopg.AsyncConnection) -> None:
        """``conn`` ran ``DISCARD ALL`` as its last statement: its return needs no reset."""
        self._discarded.add(conn)

    async def _reset(self, conn: psycopg.AsyncConnection) -> None:
        if conn in self._discarded:
            self._discarded.discard(conn)
            return
        await conn.execute("DISCARD ALL")

    async def forget_database(self, physical_name: str) -> None:
        """Close every pool on a database: it is about to be dropped, or sessions on it were
        ended; pools open again on demand."""
        doomed = [k for k in self._tenant if k[0] == physical_name]
        for key in doomed:
            await self._tenant.pop(key).close()
