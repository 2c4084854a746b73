"""CREATE/DROP of the Postgres objects behind users and databases (security.md §1).

Every identifier goes through ``sql.Identifier``. Physical names are opaque (``db_<hex>``,
``u_<hex>``): every tenant can read all database and role names (§1.2). Each database is owned
by its own NOLOGIN ``<db>_sys`` role that no tenant is a member of (§1.3); a tenant's rights
come from the NOLOGIN group ``<db>_owner`` (later also ``_admin``, ``_write``, ``_read``).
The platform touches a tenant database as a privileged role only to hand the empty ``public``
schema to the owner group, right after creating it (§1.7).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import psycopg
from psycopg import sql

from bitdotio.cluster.access import ClusterAccess

__all__ = [
    "create_database",
    "create_login_role",
    "drop_database",
    "drop_role",
    "ensure_database",
    "harden_cluster",
    "new_physical_name",
    "owner_group",
    "platform_connection",
]

log = logging.getLogger("bitdotio.cluster")


def new_physical_name() -> str:
    return f"db_{secrets.token_hex(8)}"


def owner_group(physical_name: str) -> str:
    return f"{physical_name}_owner"


def _sys_role(physical_name: str) -> str:
    return f"{physical_name}_sys"


@contextlib.asynccontextmanager
async def platform_connection(
    access: ClusterAccess, dbname: str | None = None
) -> AsyncIterator[psycopg.AsyncConnection]:
    """An autocommit connection as the platform's role, with a safe search_path (§1.7)."""
    conn = await psycopg.AsyncConnection.connect(access.platform(dbname), autocommit=True)
    try:
        await conn.execute("SET search_path = pg_catalog, pg_temp")
        yield conn
    finally:
        await conn.close()


async def _is_superuser(conn: psycopg.AsyncConnection) -> bool:
    cur = await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = await cur.fetchone()
    return bool(row and row[0])


async def harden_cluster(access: ClusterAccess) -> None:
    """REVOKE CONNECT and TEMP from PUBLIC on template1, postgres and the catalog (§1.4)."""
    async with platform_connection(access) as conn:
        for dbname in ("template1", "postgres", access.catalog_db):
            try:
                await conn.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname))
                )
            except psycopg.errors.InsufficientPrivilege:
                log.warning("cannot revoke PUBLIC access on database %s: not its owner", dbname)


async def ensure_database(access: ClusterAccess, dbname: str) -> bool:
    """Create a platform database (the catalog) if missing; True if created."""
    async with platform_connection(access) as conn:
        cur = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
        if await cur.fetchone():
            return False
        await conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(dbname)
            )
        )
        return True


async def create_login_role(access: ClusterAccess, role_name: str) -> None:
    """One LOGIN role per principal, without a password (§1.5, §1.6)."""
    async with platform_connection(access) as conn:
        await conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS PASSWORD NULL"
            ).format(sql.Identifier(role_name))
        )


async def create_database(access: ClusterAccess, physical_name: str, owner_role: str) -> None:
    """The database, its roles and grants; on any failure, nothing is left behind."""
    ident = sql.Identifier(physical_name)
    sys_role, group = (
        sql.Identifier(_sys_role(physical_name)),
        sql.Identifier(owner_group(physical_name)),
    )
    try:
        async with platform_connection(access) as conn:
            await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sys_role))
            await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(group))
            if not await _is_superuser(conn):
                # PG15: a CREATEROLE platform role must be a member of a role to create a
                # database it owns, or to hand a schema to it.
                await conn.execute(sql.SQL("GRANT {}, {} TO CURRENT_USER").format(sys_role, group))
            await conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    ident, sys_role
                )
            )
            await conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
            await conn.execute(
                # TEMP too: temporary tables are ordinary Postgres that wire clients expect
                # (2.2.1's README sends them to get_connection for exactly that).
                sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                    ident, group
                )
            )
            await conn.execute(sql.SQL("GRANT {} TO {}").format(group, sql.Identifier(owner_role)))
        async with platform_connection(access, physical_name) as conn:
            # The database is brand new: no tenant object exists yet to run as us (§1.7).
            await conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(group))
            await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    except BaseException:
        await drop_database(access, physical_name)
        raise


async def drop_database(access: ClusterAccess, physical_name: str) -> None:
    """Drop the database (ending its sessions) and its roles; missing pieces are fine."""
    async with platform_connection(access) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(physical_name))
        )
        for role in (owner_group(physical_name), _sys_role(physical_name)):
            await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def drop_role(access: ClusterAccess, role_name: str) -> None:
    async with platform_connection(access) as conn:
        await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role_name)))
