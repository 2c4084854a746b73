"""Who holds which role on a database (``database_grants``): collaborators, and the Postgres
group memberships that follow from them.

The catalog is the source of truth; ``wanted_members`` says what each of the database's groups
should contain, and ``cluster.tenancy.apply_rights`` makes Postgres match it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from bitdotio.catalog.rights import decide, group_role

__all__ = [
    "PUBLIC_GROUP",
    "Collaborator",
    "list_for",
    "remove",
    "role_of",
    "set_role",
    "wanted_members",
]

PUBLIC_GROUP = "bitio_public"  # every user's roles; a public database grants it its _read group


@dataclass(frozen=True)
class Collaborator:
    username: str
    role: str
    date_granted: datetime


async def list_for(conn: psycopg.AsyncConnection, database_id: uuid.UUID) -> list[Collaborator]:
    """Everyone with a role on the database, the owner first."""
    cur = conn.cursor(row_factory=class_row(Collaborator))
    await cur.execute(
        "SELECT u.username, g.role, g.date_granted FROM database_grants g"
        " JOIN users u ON u.id = g.user_id WHERE g.database_id = %s"
        " ORDER BY g.role = 'OWNER' DESC, lower(u.username)",
        [database_id],
    )
    return await cur.fetchall()


async def set_role(
    conn: psycopg.AsyncConnection, database_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    """Give the user ``role`` on the database, or change the role they have."""
    await conn.execute(
        "INSERT INTO database_grants (database_id, user_id, role) VALUES (%s, %s, %s)"
        " ON CONFLICT (database_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        [database_id, user_id, role],
    )


async def role_of(
    conn: psycopg.AsyncConnection, database_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    cur = await conn.execute(
        "SELECT role FROM database_grants WHERE database_id = %s AND user_id = %s",
        [database_id, user_id],
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def remove(conn: psycopg.AsyncConnection, database_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    cur = await conn.execute(
        "DELETE FROM database_grants WHERE database_id = %s AND user_id = %s AND role <> 'OWNER'",
        [database_id, user_id],
    )
    return cur.rowcount > 0


async def wanted_members(
    conn: psycopg.AsyncConnection, database_id: uuid.UUID
) -> tuple[str, dict[str, set[str]]]:
    """The database's physical name, and each of its groups -> the roles that should be its
    direct members."""
    cur = await conn.execute(
        "SELECT physical_name, is_private FROM databases WHERE id = %s", [database_id]
    )
    row = await cur.fetchone()
    assert row is not None
    physical_name, is_private = row
    wanted: dict[str, set[str]] = {
        group_role(physical_name, role): set() for role in ("OWNER", "WRITER", "READER")
    }
    if not is_private:
        wanted[group_role(physical_name, "READER")].add(PUBLIC_GROUP)
    cur = await conn.execute(
        "SELECT u.role_name, u.ro_role_name, g.role FROM database_grants g"
        " JOIN users u ON u.id = g.user_id WHERE g.database_id = %s",
        [database_id],
    )
    for role_name, ro_role_name, role in await cur.fetchall():
        wanted[group_role(physical_name, role)].add(role_name)
        if ro_role_name:  # the user's read-only keys read what the user may read
            wanted[group_role(physical_name, "READER")].add(ro_role_name)
    # Service accounts in scope: their role, never more than their owner's (rights.decide).
    cur = await conn.execute(
        "SELECT sa.role_name, s.role, g.role FROM service_account_databases s"
        " JOIN service_accounts sa ON sa.id = s.service_account_id"
        " LEFT JOIN database_grants g ON g.database_id = s.database_id"
        "  AND g.user_id = sa.owner_id"
        " WHERE s.database_id = %s",
        [database_id],
    )
    for role_name, scope, owner_grant in await cur.fetchall():
        decision = decide(owner_grant, is_private=is_private, scope=scope, service_account=True)
        if decision is not None:
            wanted[decision.group(physical_name)].add(role_name)
    return physical_name, wanted
