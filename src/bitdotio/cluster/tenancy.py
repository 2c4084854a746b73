"""Lifecycles that span the catalog and the cluster: users and databases.

Each keeps the two in step: the catalog row is written in a transaction that commits only after
the Postgres objects exist, and the objects are dropped again if anything fails.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import databases, grants, keys, service_accounts, users
from bitdotio.catalog.databases import DatabaseRecord
from bitdotio.catalog.grants import PUBLIC_GROUP
from bitdotio.catalog.names import check_database_name
from bitdotio.cluster import provisioning
from bitdotio.cluster.access import ClusterAccess

__all__ = [
    "Credentials",
    "apply_rights",
    "create_database",
    "create_service_account",
    "create_user",
    "delete_database",
    "delete_service_account",
    "ensure_read_only_role",
    "upgrade_databases",
]


@dataclass(frozen=True)
class Credentials:
    username: str
    api_key: str

    def as_json(self) -> dict[str, str]:
        return {"username": self.username, "api_key": self.api_key}


async def create_user(
    access: ClusterAccess, catalog: psycopg.AsyncConnection, username: str
) -> Credentials:
    """A user, its LOGIN role and a first API key."""
    role_name = users.new_role_name()
    async with catalog.transaction():
        user_id = await users.insert(catalog, username, role_name)
        await provisioning.create_login_role(access, role_name)
        try:
            key = await keys.mint(catalog, user_id)
        except BaseException:
            await provisioning.drop_role(access, role_name)
            raise
    return Credentials(username, key)


async def create_database(
    access: ClusterAccess,
    catalog_pool: AsyncConnectionPool,
    *,
    owner_id: uuid.UUID,
    owner_role: str,
    name: str,
    is_private: bool,
    storage_limit_bytes: int,
) -> uuid.UUID:
    check_database_name(name)
    physical_name = provisioning.new_physical_name()
    provisioned = False
    async with catalog_pool.connection() as conn:
        try:
            async with conn.transaction():
                database_id = await databases.insert(
                    conn,
                    owner_id=owner_id,
                    name=name,
                    is_private=is_private,
                    storage_limit_bytes=storage_limit_bytes,
                    physical_name=physical_name,
                )
                await provisioning.create_database(access, physical_name, owner_role)
                provisioned = True
                if not is_private:
                    await apply_rights(access, conn, database_id)
        except BaseException:
            if provisioned:  # the catalog commit failed after the database was made
                await provisioning.drop_database(access, physical_name)
            raise
    return database_id


async def delete_database(
    access: ClusterAccess,
    conn: psycopg.AsyncConnection,
    record: DatabaseRecord,
    *,
    reservation_days: int,
) -> None:
    """Drop it in Postgres inside the catalog transaction (``conn`` holds the row locked)."""
    await databases.delete(conn, record, reservation_days=reservation_days)
    await provisioning.drop_database(access, record.physical_name)


async def apply_rights(
    access: ClusterAccess, conn: psycopg.AsyncConnection, database_id: uuid.UUID
) -> None:
    """Make the database's Postgres groups match the catalog (grants, public), then end the
    sessions that lost a right: a session keeps acting as its group until it ends, so a
    revoked membership alone would leave it open (issue: "removes that access at once").
    Idempotent; call it after every change to who may do what on the database."""
    physical_name, wanted = await grants.wanted_members(conn, database_id)
    lost = await provisioning.sync_members(access, physical_name, wanted)
    if PUBLIC_GROUP in lost:  # the database went private: everyone who is not a member goes
        members = set().union(*wanted.values())
        lost |= await provisioning.session_roles(access, physical_name) - members
    await provisioning.end_sessions(access, physical_name, lost - {PUBLIC_GROUP})


async def upgrade_databases(access: ClusterAccess, conn: psycopg.AsyncConnection) -> None:
    """At start: every user's roles in the public group, and every database made before the
    owner/write/read groups brought to them (``provisioning.upgrade_database``)."""
    cur = await conn.execute(
        "SELECT role_name FROM users UNION ALL"
        " SELECT ro_role_name FROM users WHERE ro_role_name IS NOT NULL"
    )
    await provisioning.ensure_members(access, PUBLIC_GROUP, {r for (r,) in await cur.fetchall()})
    cur = await conn.execute("SELECT id, physical_name FROM databases ORDER BY date_created")
    for database_id, physical_name in await cur.fetchall():
        if not await provisioning.needs_upgrade(access, physical_name):
            continue
        logins = await conn.execute(
            "SELECT u.role_name FROM database_grants g JOIN users u ON u.id = g.user_id"
            " WHERE g.database_id = %s",
            [database_id],
        )
        roles = [r for (r,) in await logins.fetchall()]
        await provisioning.upgrade_database(access, physical_name, roles)
        await apply_rights(access, conn, database_id)


async def ensure_read_only_role(
    access: ClusterAccess, conn: psycopg.AsyncConnection, user_id: uuid.UUID
) -> None:
    """The user's read-only twin: the LOGIN role read-only keys use, a member only of the read
    groups of the user's databases, so no SET ROLE can give such a key more than reading."""
    cur = await conn.execute("SELECT ro_role_name FROM users WHERE id = %s FOR UPDATE", [user_id])
    row = await cur.fetchone()
    if row is None or row[0]:
        return
    role_name = users.new_role_name()
    await provisioning.create_login_role(access, role_name)
    await conn.execute("UPDATE users SET ro_role_name = %s WHERE id = %s", [role_name, user_id])
    cur = await conn.execute(
        "SELECT database_id FROM database_grants WHERE user_id = %s", [user_id]
    )
    for (database_id,) in await cur.fetchall():
        await apply_rights(access, conn, database_id)


async def create_service_account(
    access: ClusterAccess,
    conn: psycopg.AsyncConnection,
    *,
    owner_id: uuid.UUID,
    name: str,
    scope: dict[uuid.UUID, str],
) -> uuid.UUID:
    """The account's row and scope, its LOGIN role (not in the public group: it sees nothing
    outside its scope), and the group memberships its scope gives it. Inside ``conn``'s
    transaction; the role is dropped again if the transaction cannot go on."""
    role_name = users.new_role_name()
    await provisioning.create_login_role(access, role_name, public=False)
    try:
        account_id = await service_accounts.insert(
            conn,
            owner_id=owner_id,
            name=name,
            role_name=role_name,
            scope=scope,
        )
        for database_id in scope:
            await apply_rights(access, conn, database_id)
    except BaseException:
        await provisioning.drop_role(access, role_name)
        raise
    return account_id


async def delete_service_account(
    access: ClusterAccess, conn: psycopg.AsyncConnection, account: service_accounts.ServiceAccount
) -> None:
    """Keys, scope and row go (the endpoint closes the keys' connections within seconds);
    then its sessions are ended and its role dropped, with anything it came to own handed to
    the owner group of that database."""
    database_ids = await service_accounts.scoped_databases(conn, account.id)
    await service_accounts.delete(conn, account.id)
    for database_id in database_ids:
        await apply_rights(access, conn, database_id)
    cur = await conn.execute(
        "SELECT physical_name FROM databases WHERE id = ANY(%s)", [database_ids]
    )
    for (physical_name,) in await cur.fetchall():
        await provisioning.end_sessions(access, physical_name, {account.role_name})
        await provisioning.disown(access, physical_name, account.role_name)
    await provisioning.drop_role(access, account.role_name)
