"""Bringing the cluster up: the embedded Postgres or ``BITIO_DATABASE_URL``, then the hardening
revokes, the catalog database and its migrations, and the version advisory check."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from bitdotio.catalog.migrate import migrate
from bitdotio.cluster import provisioning, tenancy
from bitdotio.cluster.access import ClusterAccess
from bitdotio.cluster.embedded import SUPERUSER, EmbeddedPostgres
from bitdotio.cluster.versions import Advisory, advisories_for
from bitdotio.config import Settings
from bitdotio.errors import BitError

__all__ = ["Cluster", "prepare_catalog", "start_postgres"]

log = logging.getLogger("bitdotio.cluster")


@dataclass
class Cluster:
    access: ClusterAccess
    embedded: EmbeddedPostgres | None
    owns_postgres: bool = False
    server_version: str = ""
    advisories: list[Advisory] = field(default_factory=list)

    def close(self) -> None:
        """Stop the embedded Postgres if this process owns it, and release the data dir."""
        if self.embedded is None:
            return
        try:
            if self.owns_postgres:
                self.embedded.stop()
        finally:
            self.embedded.unlock()


def start_postgres(settings: Settings, *, exclusive: bool) -> Cluster:
    """Start the embedded Postgres, or point at ``BITIO_DATABASE_URL``.

    ``exclusive`` (``bit serve``): own the data directory or fail. Otherwise (``bit admin``)
    borrow the Postgres of a server running on it, or own it for the duration.
    """
    if settings.database_url:
        return Cluster(
            ClusterAccess.from_url(settings.database_url, settings.catalog_database), None
        )
    embedded = EmbeddedPostgres(
        settings.data_dir,
        bindir=settings.pg_bindir,
        system_user=settings.pg_system_user,
        max_connections=settings.pg_max_connections,
        fsync=settings.pg_fsync,
    )
    owns = embedded.try_lock()
    if exclusive and not owns:
        raise BitError("BIT005", f"Another bit serve is already using {embedded.data_dir}")
    try:
        embedded.start()
    except BaseException:
        embedded.unlock()
        raise
    base = {"host": str(embedded.socket_dir), "port": "5432", "user": SUPERUSER}
    access = ClusterAccess(base=base, catalog_db=settings.catalog_database)
    return Cluster(access, embedded, owns_postgres=owns)


async def prepare_catalog(cluster: Cluster) -> None:
    """Idempotent: revokes, catalog database, migrations, version advisories."""
    access = cluster.access
    if await provisioning.ensure_database(access, access.catalog_db):
        log.info("created the catalog database %s", access.catalog_db)
    await provisioning.harden_cluster(access)
    async with await psycopg.AsyncConnection.connect(access.catalog(), autocommit=True) as conn:
        await migrate(conn)
        await tenancy.upgrade_databases(access, conn)
        cur = await conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int"
        )
        row = await cur.fetchone()
    assert row is not None
    cluster.server_version = row[0]
    cluster.advisories = advisories_for(row[1])
    for advisory in cluster.advisories:
        log.warning(
            "SECURITY: Postgres %s is affected by %s (%s). Upgrade the server packages.",
            cluster.server_version,
            advisory.cve,
            advisory.summary,
        )
