"""Databases in the catalog: lookup by ``owner/name`` (old names included), listing, and the
rows behind create, update and delete. Physical provisioning lives in ``cluster.provisioning``.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from bitdotio.catalog.keys import Principal
from bitdotio.catalog.names import FullName
from bitdotio.catalog.rights import Decision, decide
from bitdotio.errors import BitError

__all__ = [
    "DatabaseRecord",
    "by_id",
    "delete",
    "insert",
    "list_for",
    "resolve",
    "transfer",
    "update",
]


@dataclass(frozen=True)
class DatabaseRecord:
    id: uuid.UUID
    owner_id: uuid.UUID
    owner: str
    name: str
    is_private: bool
    storage_limit_bytes: int
    storage_usage_bytes: int | None  # only when asked for: pg_database_size walks the files
    date_created: datetime
    physical_name: str
    grant: str | None  # the requester's grant (OWNER, ADMIN, WRITER, READER), if any
    scope: str | None = None  # a service account's role on the database, if in its scope
    access: Decision | None = None  # what the requester may do (catalog.rights.decide)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def role(self) -> str | None:
        """The requester's effective role; READER for someone else's public database."""
        return self.access.role if self.access else None

    @property
    def group(self) -> str:
        """The Postgres group the requester's sessions run as."""
        assert self.access is not None
        return self.access.group(self.physical_name)


_SELECT = """
SELECT d.id, d.owner_id, o.username AS owner, d.name, d.is_private, d.storage_limit_bytes,
       {usage} AS storage_usage_bytes, d.date_created, d.physical_name, g.role AS grant,
       s.role AS scope
FROM databases d
JOIN users o ON o.id = d.owner_id
LEFT JOIN database_grants g ON g.database_id = d.id AND g.user_id = %(user_id)s
LEFT JOIN service_account_databases s
    ON s.database_id = d.id AND s.service_account_id = %(service_account_id)s
"""


def _decided(record: DatabaseRecord, who: Principal) -> DatabaseRecord:
    access = decide(
        record.grant,
        is_private=record.is_private,
        read_only=who.read_only,
        scope=record.scope,
        service_account=who.service_account_id is not None,
    )
    return dataclasses.replace(record, access=access)


_USAGE = (
    "(SELECT coalesce(pg_catalog.pg_database_size(pd.oid), 0) FROM pg_catalog.pg_database pd"
    " WHERE pd.datname = d.physical_name)"
)


def _select(*, with_usage: bool) -> str:
    return _SELECT.replace("{usage}", _USAGE if with_usage else "NULL::bigint")


_BY_NAME = """
WHERE d.id = coalesce(
  (SELECT d2.id FROM databases d2 JOIN users o2 ON o2.id = d2.owner_id
    WHERE lower(o2.username) = lower(%(owner)s) AND lower(d2.name) = lower(%(name)s)),
  (SELECT r.database_id FROM name_reservations r JOIN users o3 ON o3.id = r.owner_id
    WHERE lower(o3.username) = lower(%(owner)s) AND lower(r.name) = lower(%(name)s)
      AND r.reserved_until > now()))
"""


async def resolve(
    conn: psycopg.AsyncConnection,
    who: Principal,
    full: FullName,
    *,
    lock: bool = False,
    with_usage: bool = False,
) -> DatabaseRecord | None:
    """The database ``full`` names (or named within the reservation period), if ``who`` may
    see it (``catalog.rights.decide``). Invisible and missing look the same (contract §2.3).
    """
    query = _select(with_usage=with_usage) + _BY_NAME + (" FOR UPDATE OF d" if lock else "")
    cur = conn.cursor(row_factory=class_row(DatabaseRecord))
    await cur.execute(query, {**_who(who), "owner": full.owner, "name": full.name})
    record = await cur.fetchone()
    if record is None:
        return None
    record = _decided(record, who)
    return record if record.access is not None else None


def _who(who: Principal) -> dict[str, uuid.UUID | None]:
    return {"user_id": who.user_id, "service_account_id": who.service_account_id}


async def by_id(
    conn: psycopg.AsyncConnection, who: Principal, database_id: uuid.UUID
) -> DatabaseRecord | None:
    """The database, if ``who`` may see it (a job checking its rights again)."""
    cur = conn.cursor(row_factory=class_row(DatabaseRecord))
    await cur.execute(
        _select(with_usage=False) + " WHERE d.id = %(id)s", {**_who(who), "id": database_id}
    )
    record = await cur.fetchone()
    if record is None:
        return None
    record = _decided(record, who)
    return record if record.access is not None else None


async def list_for(conn: psycopg.AsyncConnection, who: Principal) -> list[DatabaseRecord]:
    """Databases the user owns or has a grant on (a service account: those in its scope);
    others' public databases are not listed."""
    cur = conn.cursor(row_factory=class_row(DatabaseRecord))
    await cur.execute(
        _select(with_usage=True) + " WHERE g.role IS NOT NULL ORDER BY d.date_created, d.id",
        _who(who),
    )
    records = [_decided(r, who) for r in await cur.fetchall()]
    return [r for r in records if r.access is not None]


async def _check_reservation(
    conn: psycopg.AsyncConnection, owner_id: uuid.UUID, name: str, database_id: uuid.UUID | None
) -> None:
    """Raise 409 if ``name`` is reserved, unless by ``database_id`` itself (a rename back)."""
    await conn.execute("DELETE FROM name_reservations WHERE reserved_until <= now()")
    cur = await conn.execute(
        "SELECT database_id FROM name_reservations WHERE owner_id = %s AND lower(name) = lower(%s)",
        [owner_id, name],
    )
    row = await cur.fetchone()
    if row is None:
        return
    if database_id is not None and row[0] == database_id:
        await conn.execute(
            "DELETE FROM name_reservations WHERE owner_id = %s AND lower(name) = lower(%s)",
            [owner_id, name],
        )
        return
    raise BitError(
        "BIT103",
        f"The name {name!r} is reserved after a recent delete or rename; "
        "choose another name or wait for the reservation to end",
    )


async def _reserve(
    conn: psycopg.AsyncConnection,
    record: DatabaseRecord,
    days: int,
    database_id: uuid.UUID | None,
) -> None:
    if days <= 0:
        return
    await conn.execute(
        "INSERT INTO name_reservations (owner_id, name, database_id, reserved_until)"
        " VALUES (%s, %s, %s, now() + make_interval(days => %s))"
        " ON CONFLICT (owner_id, lower(name)) DO UPDATE"
        " SET database_id = EXCLUDED.database_id, reserved_until = EXCLUDED.reserved_until",
        [record.owner_id, record.name, database_id, days],
    )


async def insert(
    conn: psycopg.AsyncConnection,
    *,
    owner_id: uuid.UUID,
    name: str,
    is_private: bool,
    storage_limit_bytes: int,
    physical_name: str,
) -> uuid.UUID:
    """Insert the row and the owner's grant; call inside the transaction that provisions."""
    await _check_reservation(conn, owner_id, name, None)
    database_id = uuid.uuid4()
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO databases (id, owner_id, name, is_private, storage_limit_bytes,"
                " physical_name) VALUES (%s, %s, %s, %s, %s, %s)",
                [database_id, owner_id, name, is_private, storage_limit_bytes, physical_name],
            )
    except psycopg.errors.UniqueViolation:
        raise BitError("BIT102", f"You already have a database named {name!r}") from None
    await conn.execute(
        "INSERT INTO database_grants (database_id, user_id, role) VALUES (%s, %s, 'OWNER')",
        [database_id, owner_id],
    )
    return database_id


async def update(
    conn: psycopg.AsyncConnection,
    record: DatabaseRecord,
    changes: dict[str, Any],
    *,
    reservation_days: int,
) -> None:
    """Apply ``changes`` (name, is_private, storage_limit_bytes); a rename reserves the old name
    as an alias of this database."""
    new_name = changes.get("name")
    if new_name is not None and new_name != record.name:
        if new_name.lower() != record.name.lower():
            await _check_reservation(conn, record.owner_id, new_name, record.id)
        try:
            async with conn.transaction():
                await conn.execute(
                    "UPDATE databases SET name = %s WHERE id = %s", [new_name, record.id]
                )
        except psycopg.errors.UniqueViolation:
            raise BitError("BIT102", f"You already have a database named {new_name!r}") from None
        if new_name.lower() != record.name.lower():
            await _reserve(conn, record, reservation_days, record.id)
    for column in ("is_private", "storage_limit_bytes"):
        if changes.get(column) is not None:
            await conn.execute(
                sql.SQL("UPDATE databases SET {} = %s WHERE id = %s").format(
                    sql.Identifier(column)
                ),
                [changes[column], record.id],
            )


async def transfer(
    conn: psycopg.AsyncConnection,
    record: DatabaseRecord,
    new_owner_id: uuid.UUID,
    *,
    reservation_days: int,
) -> None:
    """Make another user the owner: the database moves to their namespace (409 if they have
    one by that name), the old owner stays on as ADMIN, and the old ``owner/name`` keeps
    resolving to it for the reservation period, as after a rename."""
    await _check_reservation(conn, new_owner_id, record.name, record.id)
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE databases SET owner_id = %s WHERE id = %s", [new_owner_id, record.id]
            )
    except psycopg.errors.UniqueViolation:
        raise BitError(
            "BIT102", f"The new owner already has a database named {record.name!r}"
        ) from None
    await conn.execute(
        "UPDATE database_grants SET role = 'ADMIN' WHERE database_id = %s AND user_id = %s",
        [record.id, record.owner_id],
    )
    await conn.execute(
        "INSERT INTO database_grants (database_id, user_id, role) VALUES (%s, %s, 'OWNER')"
        " ON CONFLICT (database_id, user_id) DO UPDATE SET role = 'OWNER'",
        [record.id, new_owner_id],
    )
    await _reserve(conn, record, reservation_days, record.id)


async def delete(
    conn: psycopg.AsyncConnection, record: DatabaseRecord, *, reservation_days: int
) -> None:
    await conn.execute("DELETE FROM databases WHERE id = %s", [record.id])
    await _reserve(conn, record, reservation_days, None)
