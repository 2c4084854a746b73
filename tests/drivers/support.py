"""Helpers for the driver tests: a tenant (user, key, databases) on a running ``bit serve``."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
import requests

from tests.e2e.conftest import Server

T = TypeVar("T")

# The user name is ignored by the endpoint (contract §4.2); 2.2.1 sends this one.
DB_USER = "api_user"


def unique_name(prefix: str) -> str:
    """A fresh database or user name of at most 23 characters (contract §1)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def healthz(server: Server) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(f"{server.base_url}/healthz", timeout=10).json()
    return body


def endpoint_connections(server: Server) -> int:
    return int(healthz(server)["endpoint"]["connections"])


def wait_until(
    probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 5.0
) -> tuple[bool, T]:
    """Call ``probe`` until ``done(value)`` or the time is up; (success, last value)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value):
            return True, value
        if time.monotonic() > deadline:
            return False, value
        time.sleep(0.1)


@dataclass
class Tenant:
    """A user of one server: its name and API key, and how to reach its databases."""

    server: Server
    username: str
    key: str

    def create_database(self, name: str | None = None, *, is_private: bool = True) -> str:
        """Create a database through the HTTP API; its full name ``owner/name``."""
        response = requests.post(
            f"{self.server.api_url}/db/",
            json={"name": name or unique_name("db"), "is_private": is_private},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        full_name: str = response.json()["name"]
        assert full_name.split("/")[0] == self.username
        return full_name

    def conninfo(self, dbname: str, *, key: str | None = None, **extra: str) -> str:
        """A libpq string as the SDKs send it: password = API key, user name ignored.

        ``connect_timeout`` is added so a stuck handshake fails a test instead of hanging it.
        """
        params = {
            "host": "127.0.0.1",
            "port": str(self.server.pg_port),
            "user": DB_USER,
            "password": self.key if key is None else key,
            "dbname": dbname,
            "sslmode": "require",
            "connect_timeout": "10",
            **extra,
        }
        return " ".join(f"{name}={value}" for name, value in params.items())

    def asyncpg_kwargs(self, dbname: str, **extra: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.server.pg_port,
            "user": DB_USER,
            "password": self.key,
            "database": dbname,
            "ssl": "require",
            "timeout": 10,
            **extra,
        }


def asyncpg_connect_error(kwargs: dict[str, Any]) -> asyncpg.PostgresError:
    """The error asyncpg raises when the endpoint refuses a connection.

    asyncpg 0.32 sometimes leaves the socket transport of a refused TLS connection unclosed
    (it does so against a stock Postgres 15 as well); its ResourceWarning is collected here so
    that it cannot fail an unrelated test later.
    """

    async def attempt() -> None:
        conn = await asyncpg.connect(**kwargs)
        await conn.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            with pytest.raises(asyncpg.PostgresError) as excinfo:
                asyncio.run(attempt())
        finally:
            gc.collect()
    return excinfo.value
