"""Service accounts: principals a user creates, each with its own LOGIN role and a scope (a
role on some of the user's databases), acting through keys of their own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from bitdotio.catalog.rights import ROLES

__all__ = [
    "ServiceAccount",
    "delete",
    "get",
    "insert",
    "list_for",
    "scoped_databases",
]


@dataclass(frozen=True)
class ServiceAccount:
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    role_name: str
    date_created: datetime
    role: str | None  # its strongest role on its databases (bit.io showed one role)
    databases: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # id, name, role
    token_count: int = 0
    active_token_count: int = 0


_SELECT = """
SELECT sa.id, sa.owner_id, sa.name, sa.role_name, sa.date_created,
       coalesce((SELECT array_agg(ARRAY[d.id::text, o.username || '/' || d.name, s.role]
                                  ORDER BY o.username, d.name)
                 FROM service_account_databases s JOIN databases d ON d.id = s.database_id
                 JOIN users o ON o.id = d.owner_id WHERE s.service_account_id = sa.id),
                '{}'),
       (SELECT count(*) FROM api_keys k WHERE k.service_account_id = sa.id),
       (SELECT count(*) FROM api_keys k WHERE k.service_account_id = sa.id
          AND k.date_revoked IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))
FROM service_accounts sa
"""


def _record(row: tuple[Any, ...]) -> ServiceAccount:
    account_id, owner_id, name, role_name, date_created, dbs, tokens, active = row
    scope = [(uuid.UUID(i), n, r) for i, n, r in dbs]
    strongest = max((r for _, _, r in scope), key=ROLES.index, default=None)
    return ServiceAccount(
        account_id,
        owner_id,
        name,
        role_name,
        date_created,
        strongest,
        scope,
        int(tokens),
        int(active),
    )


async def insert(
    conn: psycopg.AsyncConnection,
    *,
    owner_id: uuid.UUID,
    name: str,
    role_name: str,
    scope: dict[uuid.UUID, str],
) -> uuid.UUID:
    account_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO service_accounts (id, owner_id, name, role_name) VALUES (%s, %s, %s, %s)",
        [account_id, owner_id, name, role_name],
    )
    for database_id, role in scope.items():
        await conn.execute(
            "INSERT INTO service_account_databases (service_account_id, database_id, role)"
            " VALUES (%s, %s, %s)",
            [account_id, database_id, role],
        )
    return account_id


async def get(
    conn: psycopg.AsyncConnection, owner_id: uuid.UUID, account_id: uuid.UUID
) -> ServiceAccount | None:
    cur = await conn.execute(
        _SELECT + " WHERE sa.id = %s AND sa.owner_id = %s", [account_id, owner_id]
    )
    row = await cur.fetchone()
    return _record(row) if row else None


async def list_for(conn: psycopg.AsyncConnection, owner_id: uuid.UUID) -> list[ServiceAccount]:
    cur = await conn.execute(
        _SELECT + " WHERE sa.owner_id = %s ORDER BY sa.date_created, sa.id", [owner_id]
    )
    return [_record(row) for row in await cur.fetchall()]


async def scoped_databases(conn: psycopg.AsyncConnection, account_id: uuid.UUID) -> list[uuid.UUID]:
    cur = await conn.execute(
        "SELECT database_id FROM service_account_databases WHERE service_account_id = %s",
        [account_id],
    )
    return [database_id for (database_id,) in await cur.fetchall()]


async def delete(conn: psycopg.AsyncConnection, account_id: uuid.UUID) -> None:
    """The account, its scope and its keys (ON DELETE CASCADE)."""
    await conn.execute("DELETE FROM service_accounts WHERE id = %s", [account_id])
