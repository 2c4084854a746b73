"""asyncpg (its own protocol implementation, no libpq) through the endpoint."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from tests.drivers.support import Tenant

pytestmark = pytest.mark.e2e

Session = Callable[[asyncpg.Connection], Awaitable[None]]


def no_verify_context() -> ssl.SSLContext:
    """Encrypt without verifying, as ``sslmode=require`` does (the certificate is self-signed)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def run(tenant: Tenant, database: str, session: Session, **extra: Any) -> None:
    async def main() -> None:
        conn = await asyncpg.connect(**tenant.asyncpg_kwargs(database, **extra))
        try:
            await session(conn)
        finally:
            await conn.close()

    asyncio.run(main())


@pytest.mark.parametrize("tls", ["require", "context"])
def test_fetch(tenant: Tenant, database: str, tls: str) -> None:
    async def session(conn: asyncpg.Connection) -> None:
        assert await conn.fetchval("SELECT 6 * 7") == 42
        rows = await conn.fetch("SELECT g, g::text AS t FROM generate_series(1, 3) AS g")
        assert [(r["g"], r["t"]) for r in rows] == [(1, "1"), (2, "2"), (3, "3")]
        assert await conn.fetchval("SELECT $1::text || $2::text", "é", "☃") == "é☃"

    ssl_option: Any = "require" if tls == "require" else no_verify_context()
    run(tenant, database, session, ssl=ssl_option)


def test_prepared_statements_and_executemany(tenant: Tenant, database: str) -> None:
    async def session(conn: asyncpg.Connection) -> None:
        await conn.execute("CREATE TABLE apg_items (id integer PRIMARY KEY, name text)")
        await conn.executemany(
            "INSERT INTO apg_items VALUES ($1, $2)", [(i, f"item {i}") for i in range(100)]
        )
        stmt = await conn.prepare("SELECT name FROM apg_items WHERE id = $1")
        assert [await stmt.fetchval(i) for i in (1, 50, 99)] == ["item 1", "item 50", "item 99"]
        assert [a.name for a in stmt.get_attributes()] == ["name"]
        names = await conn.fetch("SELECT name FROM pg_prepared_statements")
        assert len(names) >= 1  # asyncpg names and caches statements server-side
        async with conn.transaction():
            await conn.execute("DELETE FROM apg_items WHERE id >= 10")
        assert await conn.fetchval("SELECT count(*) FROM apg_items") == 10
        cursor_total = 0
        async with conn.transaction():
            async for record in conn.cursor("SELECT id FROM apg_items", prefetch=3):
                cursor_total += record["id"]
        assert cursor_total == 45

    run(tenant, database, session)


def test_copy_records_and_copy_out(tenant: Tenant, database: str) -> None:
    async def session(conn: asyncpg.Connection) -> None:
        await conn.execute("CREATE TABLE apg_copy (id integer, label text)")
        result = await conn.copy_records_to_table(
            "apg_copy", records=[(i, f"r{i}") for i in range(500)]
        )
        assert result == "COPY 500"
        chunks: list[bytes] = []

        async def sink(chunk: bytes) -> None:
            chunks.append(chunk)

        await conn.copy_from_query(
            "SELECT * FROM apg_copy WHERE id < 3 ORDER BY id", output=sink, format="csv"
        )
        assert b"".join(chunks) == b"0,r0\n1,r1\n2,r2\n"

    run(tenant, database, session)


def test_timeout_cancels_the_query(tenant: Tenant, database: str) -> None:
    """On a timeout asyncpg sends a CancelRequest (over TLS) with the BackendKeyData it got."""

    async def session(conn: asyncpg.Connection) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(conn.fetchval("SELECT pg_sleep(30)"), timeout=0.5)
        # Were the cancel lost, this would wait for pg_sleep(30) to end first.
        assert await asyncio.wait_for(conn.fetchval("SELECT 'usable'"), timeout=10) == "usable"
        with pytest.raises(TimeoutError):
            await conn.fetchval("SELECT pg_sleep(30)", timeout=0.5)  # asyncpg's own timeout
        assert await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=10) == 1

    run(tenant, database, session)


def test_listen_with_add_listener(tenant: Tenant, database: str) -> None:
    async def main() -> None:
        listener = await asyncpg.connect(**tenant.asyncpg_kwargs(database))
        notifier = await asyncpg.connect(**tenant.asyncpg_kwargs(database))
        try:
            loop = asyncio.get_running_loop()
            received: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()

            def on_notify(conn: Any, pid: int, channel: str, payload: str) -> None:
                loop.call_soon(received.put_nowait, (pid, channel, payload))

            await listener.add_listener("apg_channel", on_notify)
            await notifier.execute("NOTIFY apg_channel, 'one'")
            await notifier.execute("SELECT pg_notify('apg_channel', 'two')")
            got = [await asyncio.wait_for(received.get(), timeout=10) for _ in range(2)]
            sender = await notifier.fetchval("SELECT pg_backend_pid()")
            assert got == [(sender, "apg_channel", "one"), (sender, "apg_channel", "two")]
            await listener.remove_listener("apg_channel", on_notify)
        finally:
            await listener.close()
            await notifier.close()

    asyncio.run(main())
