"""CREATE/DROP of the Postgres objects behind users and databases (security.md §1).

Every identifier goes through ``sql.Identifier``. Physical names are opaque (``db_<hex>``,
``u_<hex>``): every tenant can read all database and role names (§1.2). Each database is owned
by its own NOLOGIN ``<db>_sys`` role that no tenant is a member of (§1.3). A tenant's rights
come from three NOLOGIN groups: ``<db>_owner`` (owns the schemas and everything made in them:
DDL), ``<db>_write`` (reads and writes rows) and ``<db>_read`` (reads). Sessions run as one
of them (startup ``role``), so whatever a session creates belongs to ``<db>_owner``, and its
default privileges hand every new schema, table and sequence to the other two. Readers get
CONNECT only: no TEMP, and no large objects (the functions that create them are revoked from
PUBLIC in every tenant database and granted to the owner and write groups) (§1.10).
The platform touches a tenant database as a privileged role only for these grants and
ownership changes (§1.7).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import psycopg
from psycopg import sql

from bitdotio.catalog.grants import PUBLIC_GROUP
from bitdotio.catalog.rights import group_role
from bitdotio.cluster.access import ClusterAccess

__all__ = [
    "PUBLIC_GROUP",
    "create_database",
    "create_login_role",
    "disown",
    "drop_database",
    "drop_role",
    "end_sessions",
    "ensure_database",
    "ensure_members",
    "group_names",
    "harden_cluster",
    "needs_upgrade",
    "new_physical_name",
    "platform_connection",
    "session_roles",
    "sync_members",
    "upgrade_database",
]

_LARGE_OBJECT_WRITERS = (
    "pg_catalog.lo_create(oid)",
    "pg_catalog.lo_creat(integer)",
    "pg_catalog.lo_from_bytea(oid, bytea)",
)

log = logging.getLogger("bitdotio.cluster")


def new_physical_name() -> str:
    return f"db_{secrets.token_hex(8)}"


def group_names(physical_name: str) -> tuple[str, str, str]:
    """The database's owner, write and read groups."""
    return (
        group_role(physical_name, "OWNER"),
        group_role(physical_name, "WRITER"),
        group_role(physical_name, "READER"),
    )


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
    """REVOKE CONNECT and TEMP from PUBLIC on template1, postgres and the catalog (§1.4); the
    group of every user's roles, through which public databases are read."""
    async with platform_connection(access) as conn:
        await _create_role_if_missing(conn, PUBLIC_GROUP)
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


async def _create_role_if_missing(conn: psycopg.AsyncConnection, role_name: str) -> None:
    cur = await conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [role_name])
    if await cur.fetchone() is None:
        with contextlib.suppress(psycopg.errors.DuplicateObject):  # a concurrent start
            await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role_name)))


async def create_login_role(access: ClusterAccess, role_name: str, *, public: bool = True) -> None:
    """One LOGIN role per principal, without a password (§1.5, §1.6); with ``public``, a
    member of the group that reads public databases (users yes, service accounts no)."""
    async with platform_connection(access) as conn:
        await conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS PASSWORD NULL"
            ).format(sql.Identifier(role_name))
        )
        if public:
            await conn.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(PUBLIC_GROUP), sql.Identifier(role_name)
                )
            )


async def create_database(access: ClusterAccess, physical_name: str, owner_role: str) -> None:
    """The database, its roles and grants; on any failure, nothing is left behind."""
    try:
        async with platform_connection(access) as conn:
            sys_role = sql.Identifier(_sys_role(physical_name))
            await conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sys_role))
            await _create_groups(conn, physical_name)
            if not await _is_superuser(conn):
                # PG15: a CREATEROLE platform role must be a member of a role to create a
                # database it owns, or to hand a schema to it.
                await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sys_role))
            await conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(physical_name), sys_role
                )
            )
            await _grant_database(conn, physical_name)
            owner = sql.Identifier(group_names(physical_name)[0])
            await conn.execute(sql.SQL("GRANT {} TO {}").format(owner, sql.Identifier(owner_role)))
        async with platform_connection(access, physical_name) as conn:
            # The database is brand new: no tenant object exists yet to run as us (§1.7).
            await conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))
            await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            await _grant_inside(conn, physical_name)
    except BaseException:
        await drop_database(access, physical_name)
        raise


async def _create_groups(conn: psycopg.AsyncConnection, physical_name: str) -> None:
    superuser = await _is_superuser(conn)
    for group in group_names(physical_name):
        await _create_role_if_missing(conn, group)
        if not superuser:
            await conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(group)))


async def _grant_database(conn: psycopg.AsyncConnection, physical_name: str) -> None:
    """CONNECT for the three groups; CREATE (schemas) for the owner; TEMP for owner and write
    (temporary tables are ordinary Postgres that wire clients expect; readers store nothing)."""
    database = sql.Identifier(physical_name)
    owner, write, read = (sql.Identifier(g) for g in group_names(physical_name))
    await conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
    for privileges, group in (
        ("CONNECT, CREATE, TEMPORARY", owner),
        ("CONNECT, TEMPORARY", write),
        ("CONNECT", read),
    ):
        await conn.execute(
            sql.SQL("GRANT " + privileges + " ON DATABASE {} TO {}").format(database, group)
        )


async def _grant_inside(conn: psycopg.AsyncConnection, physical_name: str) -> None:
    """Inside the database: what the write and read groups get on everything the owner group
    has made and will make, and the large-object functions kept from readers."""
    owner, write, read = (sql.Identifier(g) for g in group_names(physical_name))
    grants = (
        ("USAGE ON SCHEMAS", read),
        ("USAGE ON SCHEMAS", write),
        ("SELECT ON TABLES", read),
        ("SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON TABLES", write),
        ("SELECT ON SEQUENCES", read),
        ("USAGE, SELECT, UPDATE ON SEQUENCES", write),
    )
    for what, group in grants:
        await conn.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT " + what + " TO {}").format(
                owner, group
            )
        )
    # What exists already (a database made before the groups existed): the same grants.
    cur = await conn.execute(
        "SELECT n.nspname FROM pg_catalog.pg_namespace n"
        " WHERE pg_catalog.pg_get_userbyid(n.nspowner) = %s",
        [group_names(physical_name)[0]],
    )
    for (schema,) in await cur.fetchall():
        ident = sql.Identifier(schema)
        for template, group in (
            ("GRANT USAGE ON SCHEMA {s} TO {g}", read),
            ("GRANT USAGE ON SCHEMA {s} TO {g}", write),
            ("GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {g}", read),
            (
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES"
                " ON ALL TABLES IN SCHEMA {s} TO {g}",
                write,
            ),
            ("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {g}", read),
            ("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {g}", write),
        ):
            await conn.execute(sql.SQL(template).format(s=ident, g=group))
    if not await _is_superuser(conn):
        log.warning(
            "cannot keep large objects from readers in %s: the platform role is not a superuser",
            physical_name,
        )
        return
    for function in _LARGE_OBJECT_WRITERS:
        signature = sql.SQL(function)
        await conn.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(signature))
        await conn.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}, {}").format(signature, owner, write)
        )


async def needs_upgrade(access: ClusterAccess, physical_name: str) -> bool:
    """A database made before the write and read groups existed."""
    async with platform_connection(access) as conn:
        cur = await conn.execute(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s",
            [group_names(physical_name)[2]],
        )
        return await cur.fetchone() is None


async def upgrade_database(
    access: ClusterAccess, physical_name: str, login_roles: list[str]
) -> None:
    """Bring a database made before the three groups to the current model: the groups and
    their grants, and everything its members' login roles own handed to the owner group (so
    the default privileges and the write and read groups cover it). Idempotent."""
    owner = group_names(physical_name)[0]
    async with platform_connection(access) as conn:
        await _create_groups(conn, physical_name)
        await _grant_database(conn, physical_name)
    async with platform_connection(access, physical_name) as conn:
        existing = [r for r in login_roles if r]
        if existing:
            await conn.execute(
                sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                    sql.SQL(", ").join(sql.Identifier(r) for r in existing), sql.Identifier(owner)
                )
            )
        await _grant_inside(conn, physical_name)
    log.info("database %s upgraded to the owner/write/read groups", physical_name)


async def sync_members(
    access: ClusterAccess, physical_name: str, wanted: dict[str, set[str]]
) -> set[str]:
    """Make each group's direct members exactly ``wanted[group]``; returns the roles that lost
    a membership (their open sessions may still act as the group: end them)."""
    lost: set[str] = set()
    async with platform_connection(access) as conn:
        for group, members in wanted.items():
            current = await _members(conn, group)
            current.discard(await _current_user(conn))  # the platform's own (non-superuser)
            for member in sorted(members - current):
                await conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member))
                )
            for member in sorted(current - members):
                await conn.execute(
                    sql.SQL("REVOKE {} FROM {}").format(
                        sql.Identifier(group), sql.Identifier(member)
                    )
                )
                lost.add(member)
    return lost


async def ensure_members(access: ClusterAccess, group: str, members: set[str]) -> None:
    """Add ``members`` to ``group`` where missing (never removes)."""
    async with platform_connection(access) as conn:
        current = await _members(conn, group)
        for member in sorted(members - current):
            await conn.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member))
            )


async def _members(conn: psycopg.AsyncConnection, group: str) -> set[str]:
    cur = await conn.execute(
        "SELECT m.rolname FROM pg_catalog.pg_auth_members a"
        " JOIN pg_catalog.pg_roles g ON g.oid = a.roleid"
        " JOIN pg_catalog.pg_roles m ON m.oid = a.member WHERE g.rolname = %s",
        [group],
    )
    return {name for (name,) in await cur.fetchall()}


async def _current_user(conn: psycopg.AsyncConnection) -> str:
    cur = await conn.execute("SELECT current_user")
    row = await cur.fetchone()
    return str(row[0]) if row else ""


async def session_roles(access: ClusterAccess, physical_name: str) -> set[str]:
    """The LOGIN roles with sessions in the database now."""
    async with platform_connection(access) as conn:
        cur = await conn.execute(
            "SELECT DISTINCT usename FROM pg_catalog.pg_stat_activity WHERE datname = %s",
            [physical_name],
        )
        return {name for (name,) in await cur.fetchall() if name}


async def end_sessions(access: ClusterAccess, physical_name: str, role_names: set[str]) -> int:
    """Terminate the sessions in the database logged in as any of ``role_names``."""
    if not role_names:
        return 0
    async with platform_connection(access) as conn:
        cur = await conn.execute(
            "SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity"
            " WHERE datname = %s AND usename = ANY(%s)",
            [physical_name, sorted(role_names)],
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def drop_database(access: ClusterAccess, physical_name: str) -> None:
    """Drop the database (ending its sessions) and its roles; missing pieces are fine."""
    async with platform_connection(access) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(physical_name))
        )
        for role in (*group_names(physical_name), _sys_role(physical_name)):
            await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def disown(access: ClusterAccess, physical_name: str, role_name: str) -> None:
    """Hand whatever ``role_name`` owns in the database to its owner group, and drop its
    privileges there, so the role can be dropped."""
    owner = group_names(physical_name)[0]
    async with platform_connection(access, physical_name) as conn:
        await conn.execute(
            sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                sql.Identifier(role_name), sql.Identifier(owner)
            )
        )
        await conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role_name)))


async def drop_role(access: ClusterAccess, role_name: str) -> None:
    async with platform_connection(access) as conn:
        await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role_name)))
