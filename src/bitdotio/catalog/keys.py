"""API keys: minted here, shown once, stored only as a SHA-256 hash (keys are random)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg

__all__ = [
    "KeyInfo",
    "Principal",
    "hash_key",
    "invalid_among",
    "is_well_formed",
    "list_for",
    "lookup",
    "mint",
    "principal_for_job",
    "revoke",
    "revoke_all",
    "revoke_service_account",
    "touch",
]

_KEY_FORMAT = re.compile(r"v2_\w+")  # contract §1: every issued key must keep matching this
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    """Who a key authenticates as."""

    user_id: uuid.UUID  # the user; for a service account's key, the account's owner
    username: str  # the user's name, or the service account's
    role_name: str  # the LOGIN role its sessions use (a read-only key: the user's twin)
    key_id: uuid.UUID
    expires_at: datetime | None = None  # caches must not keep the principal past this
    read_only: bool = False
    service_account_id: uuid.UUID | None = None

    @property
    def rights_key(self) -> tuple[uuid.UUID, uuid.UUID | None, bool]:
        """What the principal's rights depend on, beyond the database (cache keys)."""
        return self.user_id, self.service_account_id, self.read_only


@dataclass(frozen=True)
class KeyInfo:
    """What a key's owner may see of it: never the key or its hash."""

    id: uuid.UUID
    prefix: str | None  # "v2_" + its first 5 characters; None for keys made before 2.3
    date_created: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    read_only: bool = False


def is_well_formed(key: str) -> bool:
    return _KEY_FORMAT.fullmatch(key) is not None


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _new_key() -> str:
    """``v2_`` + 5 + ``_`` + 23 alphanumerics, the shape bit.io issued (about 160 random bits)."""
    head = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(23))
    return f"v2_{head}_{tail}"


async def mint(
    conn: psycopg.AsyncConnection,
    user_id: uuid.UUID,
    *,
    expires_at: datetime | None = None,
    read_only: bool = False,
    service_account_id: uuid.UUID | None = None,
) -> str:
    """Store a new key's hash and return the key; this is the only time it exists in clear.
    ``user_id`` is the user, or the owner of ``service_account_id``."""
    key = _new_key()
    await conn.execute(
        "INSERT INTO api_keys (id, user_id, key_hash, prefix, expires_at, read_only,"
        " service_account_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [uuid.uuid4(), user_id, hash_key(key), key[:8], expires_at, read_only, service_account_id],
    )
    return key


_PRINCIPAL = (
    "SELECT u.id, coalesce(sa.name, u.username),"
    " CASE WHEN sa.id IS NOT NULL THEN sa.role_name WHEN k.read_only THEN u.ro_role_name"
    "  ELSE u.role_name END,"
    " k.id, k.expires_at, k.read_only, k.service_account_id FROM api_keys k"
    " JOIN users u ON u.id = k.user_id"
    " LEFT JOIN service_accounts sa ON sa.id = k.service_account_id"
)


async def lookup(conn: psycopg.AsyncConnection, key: str) -> Principal | None:
    """The principal of an unrevoked, well-formed key, else None."""
    if not is_well_formed(key):
        return None
    cur = await conn.execute(
        _PRINCIPAL + " WHERE k.key_hash = %s AND k.date_revoked IS NULL"
        " AND (k.expires_at IS NULL OR k.expires_at > now())",
        [hash_key(key)],
    )
    row = await cur.fetchone()
    return Principal(*row) if row else None


async def principal_for_job(
    conn: psycopg.AsyncConnection, user_id: uuid.UUID, key_id: uuid.UUID | None
) -> Principal | None:
    """Who a job acts as: the key that started it, if it still works (None otherwise); for
    jobs from before keys were recorded, the user itself."""
    if key_id is None:
        cur = await conn.execute(
            "SELECT id, username, role_name, %s::uuid FROM users WHERE id = %s",
            [uuid.UUID(int=0), user_id],
        )
    else:
        cur = await conn.execute(
            _PRINCIPAL + " WHERE k.id = %s AND k.date_revoked IS NULL"
            " AND (k.expires_at IS NULL OR k.expires_at > now())",
            [key_id],
        )
    row = await cur.fetchone()
    return Principal(*row) if row else None


async def revoke(conn: psycopg.AsyncConnection, user_id: uuid.UUID, key: str) -> bool:
    """Revoke one of the user's keys; False if it is not theirs or already revoked."""
    cur = await conn.execute(
        "UPDATE api_keys SET date_revoked = now()"
        " WHERE user_id = %s AND key_hash = %s AND date_revoked IS NULL",
        [user_id, hash_key(key)],
    )
    return cur.rowcount > 0


async def revoke_all(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> int:
    """Revoke every key of the user (not those of the user's service accounts)."""
    cur = await conn.execute(
        "UPDATE api_keys SET date_revoked = now() WHERE user_id = %s AND date_revoked IS NULL"
        " AND service_account_id IS NULL",
        [user_id],
    )
    return cur.rowcount


async def revoke_service_account(
    conn: psycopg.AsyncConnection, service_account_id: uuid.UUID
) -> int:
    cur = await conn.execute(
        "UPDATE api_keys SET date_revoked = now()"
        " WHERE service_account_id = %s AND date_revoked IS NULL",
        [service_account_id],
    )
    return cur.rowcount


async def list_for(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> list[KeyInfo]:
    """The user's keys that still work, newest first."""
    cur = await conn.execute(
        "SELECT id, prefix, date_created, expires_at, last_used_at, read_only FROM api_keys"
        " WHERE user_id = %s AND service_account_id IS NULL AND date_revoked IS NULL"
        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY date_created DESC",
        [user_id],
    )
    return [KeyInfo(*row) for row in await cur.fetchall()]


async def invalid_among(
    conn: psycopg.AsyncConnection, key_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``key_ids`` that were revoked, have expired, or no longer exist."""
    wanted = list(key_ids)
    if not wanted:
        return set()
    cur = await conn.execute(
        "SELECT id FROM api_keys WHERE id = ANY(%s) AND date_revoked IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())",
        [wanted],
    )
    valid = {row[0] for row in await cur.fetchall()}
    return set(wanted) - valid


async def touch(conn: psycopg.AsyncConnection, used: dict[uuid.UUID, datetime]) -> None:
    """Record when keys were last used (batched by the caller)."""
    if used:
        ids, times = zip(*used.items(), strict=True)
        await conn.execute(
            "UPDATE api_keys k SET last_used_at = u.t"
            " FROM unnest(%s::uuid[], %s::timestamptz[]) AS u(id, t)"
            " WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.t)",
            [list(ids), list(times)],
        )
