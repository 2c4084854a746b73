"""``bit admin``: operator commands that work on a data directory, with or without a server."""

from __future__ import annotations

import asyncio

import psycopg

from bitdotio.catalog.names import check_username
from bitdotio.cluster import tenancy
from bitdotio.cluster.bootstrap import prepare_catalog, start_postgres
from bitdotio.config import Settings

__all__ = ["create_user"]


async def _create_user(settings: Settings, username: str) -> dict[str, str]:
    cluster = start_postgres(settings, exclusive=False)
    try:
        await prepare_catalog(cluster)
        async with await psycopg.AsyncConnection.connect(
            cluster.access.catalog(), autocommit=True
        ) as conn:
            creds = await tenancy.create_user(cluster.access, conn, username)
    finally:
        cluster.close()
    return creds.as_json()


def create_user(settings: Settings, username: str) -> dict[str, str]:
    """A new user and its first API key, ``{"username": ..., "api_key": ...}``.

    Works while ``bit serve`` runs on the same data directory (it borrows that Postgres) and
    when none does (it starts Postgres, then stops it again).
    """
    check_username(username)
    return asyncio.run(_create_user(settings, username))
