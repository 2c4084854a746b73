"""API keys: minted here, shown once, stored only as a SHA-256 hash (keys are random)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import uuid
from dataclasses import dataclass

import psycopg

__all__ = ["Principal", "hash_key", "is_well_formed", "lookup", "mint", "revoke", "revoke_all"]

_KEY_FORMAT = re.compile(r"v2_\w+")  # contract §1: every issued key must keep matching this
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    """Who a key authenticates as."""

    user_id: uuid.UUID
    username: str
    role_name: str
    key_id: uuid.UUID


def is_well_formed(key: str) -> bool:
    return _KEY_FORMAT.fullmatch(key) is not None


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _new_key() -> str:
    """``v2_`` + 5 + ``_`` + 23 alphanumerics, the shape bit.io issued (about 160 random bits)."""
    head = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(23))
    return f"v2_{head}_{tail}"


async def mint(conn: psycopg.AsyncConnection, user_id: uuid.UUID) -> str:
    """Store a new key's hash and return the key; this is the only time it exists in clear."""
    key = _new_key()
    await conn.execute(
        "INSERT INTO api_keys (id, user_id, key_hash) VALUES (%s, %s, %s)",
        [uuid.uuid4(), user_id, hash_key(key)],
    )
    return key


async def lookup(conn: psycopg.AsyncConnection, key: str) -> Principal | None:
    """The principal of an unrevoked, well-formed key, else None."""
    if not is_well_formed(key):
        return None
    cur = await conn.execute(
        "SELECT u.id, u.username, u.role_name, k.id FROM api_keys k"
        " JOIN users u ON u.id = k.user_id"
        " WHERE k.key_hash = %s AND k.date_revoked IS NULL",
        [hash_key(key)],
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
    cur = await conn.execute(
        "UPDATE api_keys SET date_revoked = now() WHERE user_id = %s AND date_revoked IS NULL",
        [user_id],
    )
    return cur.rowcount
