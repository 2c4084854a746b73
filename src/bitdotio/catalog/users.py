"""Users: a username and the opaque Postgres LOGIN role the user acts as."""

from __future__ import annotations

import secrets
import uuid

import psycopg

from bitdotio.catalog.names import check_username
from bitdotio.errors import BitError

__all__ = ["count", "id_by_name", "insert", "new_role_name"]


def new_role_name() -> str:
    return f"u_{secrets.token_hex(8)}"


async def insert(conn: psycopg.AsyncConnection, username: str, role_name: str) -> uuid.UUID:
    check_username(username)
    user_id = uuid.uuid4()
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO users (id, username, role_name) VALUES (%s, %s, %s)",
                [user_id, username, role_name],
            )
    except psycopg.errors.UniqueViolation:
        raise BitError("BIT107", f"A user named {username!r} already exists") from None
    return user_id


async def count(conn: psycopg.AsyncConnection) -> int:
    cur = await conn.execute("SELECT count(*) FROM users")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def id_by_name(conn: psycopg.AsyncConnection, username: str) -> uuid.UUID | None:
    cur = await conn.execute("SELECT id FROM users WHERE lower(username) = lower(%s)", [username])
    row = await cur.fetchone()
    return row[0] if row else None
