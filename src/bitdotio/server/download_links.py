"""Download links: ``/v2beta/export/{id}/download?expires=…&signature=…``, HMAC-signed.

A link needs no API key (contract §7.3: callers fetch it with plain ``curl``): the signature
proves the API made it, and ``expires`` (a Unix time, part of what is signed) ends it. The key
is ``download-signing-key`` or, by default, a random one kept in the catalog, so every API
process of one catalog signs and checks alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import psycopg

from bitdotio.errors import BitError

__all__ = ["LinkSigner", "load_signing_key"]

_SECRET_NAME = "download-links"


class LinkSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, job_id: uuid.UUID, expires: int) -> str:
        message = f"export:{job_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, job_id: uuid.UUID, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        signature = self._signature(job_id, expires)
        return f"{base_url}/v2beta/export/{job_id}/download?expires={expires}&signature={signature}"

    def check(self, job_id: str, expires: str, signature: str, now: float) -> uuid.UUID:
        """The job id of a valid, unexpired link; BIT408 if it was not made here (or was
        changed), BIT407 if it has expired."""
        try:
            parsed_id = uuid.UUID(job_id)
            parsed_expires = int(expires)
        except ValueError:
            raise BitError("BIT408") from None
        expected = self._signature(parsed_id, parsed_expires)
        if not hmac.compare_digest(expected, signature.lower()):
            raise BitError("BIT408")
        if parsed_expires <= now:
            raise BitError("BIT407")
        return parsed_id


async def load_signing_key(conn: psycopg.AsyncConnection, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    await conn.execute(
        "INSERT INTO platform_secrets (name, secret) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [_SECRET_NAME, secrets.token_bytes(32)],
    )
    cur = await conn.execute("SELECT secret FROM platform_secrets WHERE name = %s", [_SECRET_NAME])
    row = await cur.fetchone()
    assert row is not None
    return bytes(row[0])
