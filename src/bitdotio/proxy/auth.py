"""Stage 2: the API key in the password, and the database it may reach (contract §4.2).

The user name is ignored for identity (2.2.1 sends ``api_user``); it only appears in the
error text, as Postgres words it. The key is checked before the database is looked at, so a
client without a valid key learns nothing about databases; a missing database and a private
one the key cannot see give the same 3D000. Failed attempts are counted per client address.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import keys
from bitdotio.catalog.cache import LookupCache
from bitdotio.catalog.names import parse_full_name
from bitdotio.errors import BitError
from bitdotio.proxy.codec import Startup

__all__ = ["FailureThrottle", "Route", "authenticate", "shown"]


@dataclass(frozen=True)
class Route:
    """Where an authenticated client goes, and as whom."""

    database_id: uuid.UUID
    display_name: str  # owner/name as the catalog spells it
    physical_name: str
    role_name: str  # logs in as this LOGIN role
    group: str  # acting as this group of the database (the startup parameter ``role``)
    key_id: uuid.UUID


def shown(value: str) -> str:
    """A client-supplied name fit for an error message: printable, at most 63 characters."""
    return "".join(c if c.isprintable() else "?" for c in value[:63])


class FailureThrottle:
    """At most ``limit`` failures per client address in ``window_s``; then refuse early."""

    def __init__(self, limit: int, window_s: float = 60.0, max_addresses: int = 10_000):
        self.limit = limit
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        cutoff = time.monotonic() - self.window_s
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def check(self, address: str) -> None:
        failures = self._recent(address)
        if failures is not None and len(failures) >= self.limit:
            raise BitError("BIT513")

    def record(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= self.max_addresses:
            self._failures.clear()  # a flood of addresses: forget rather than grow
        self._failures.setdefault(address, deque()).append(time.monotonic())


async def authenticate(
    cache: LookupCache, pool: AsyncConnectionPool, startup: Startup, password: str
) -> Route:
    user = startup.params.get("user", "")
    database = startup.params.get("database") or user
    if not keys.is_well_formed(password):
        raise BitError("BIT501", f'password authentication failed for user "{shown(user)}"')
    principal = await cache.principal(pool, password)
    if principal is None:
        raise BitError("BIT501", f'password authentication failed for user "{shown(user)}"')
    not_found = BitError("BIT502", f'database "{shown(database)}" does not exist')
    full = parse_full_name(database)
    if full is None:
        raise not_found
    record = await cache.database(pool, principal, full)
    if record is None:
        raise not_found
    return Route(
        database_id=record.id,
        display_name=record.full_name,
        physical_name=record.physical_name,
        role_name=principal.role_name,
        group=record.group,
        key_id=principal.key_id,
    )
