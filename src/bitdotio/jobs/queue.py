"""The job queue: a procrastinate app on the catalog database, its schema, and deferring.

procrastinate keeps its jobs in its own tables (``procrastinate_*``) in the catalog database, so
any machine that reaches the catalog can run a worker. Its schema comes from the installed
procrastinate package and is applied once, under the catalog's migration lock.
"""

from __future__ import annotations

import logging
import uuid

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import jobs
from bitdotio.catalog.jobs import JobTable
from bitdotio.cluster.access import ClusterAccess

__all__ = [
    "EXPORT_TASK",
    "IMPORT_TASK",
    "QUEUES",
    "SWEEP_TASK",
    "defer",
    "enqueue",
    "ensure_schema",
    "make_app",
]

log = logging.getLogger("bitdotio.jobs")

IMPORT_TASK = "bitio.import"
EXPORT_TASK = "bitio.export"
SWEEP_TASK = "bitio.sweep"
QUEUES = ("imports", "exports", "maintenance")
_LOCK_ID = 0x62697469  # the catalog migration lock (catalog/migrate.py)


def make_app(access: ClusterAccess, *, pool_size: int = 4) -> procrastinate.App:
    """A procrastinate app with our tasks; ``open_async`` it before use."""
    from bitdotio.jobs import tasks  # tasks import this module for the names above

    connector = procrastinate.PsycopgConnector(
        conninfo=access.catalog(),
        min_size=1,
        max_size=pool_size,
        kwargs={"application_name": "bitio-jobs"},
        name="jobs",
    )
    app = procrastinate.App(connector=connector)
    tasks.register(app)
    return app


async def ensure_schema(access: ClusterAccess) -> None:
    """Install procrastinate's tables in the catalog database if they are not there yet."""
    connect = psycopg.AsyncConnection.connect(access.catalog(), autocommit=True)
    async with await connect as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cur.fetchone()
        if row and row[0]:
            return
        await conn.execute(SchemaManager.get_schema().encode())
    log.info("installed the job queue (procrastinate %s)", procrastinate.__version__)


# job table -> its task, its queue and the name of the task's argument
_TASKS: dict[JobTable, tuple[str, str, str]] = {
    "import_jobs": (IMPORT_TASK, "imports", "import_id"),
    "export_jobs": (EXPORT_TASK, "exports", "export_id"),
}


async def defer(app: procrastinate.App, table: JobTable, job_id: uuid.UUID) -> int:
    """Queue the job of ``table`` (import or export); returns procrastinate's job id."""
    task, queue, argument = _TASKS[table]
    return await app.configure_task(task, queue=queue).defer_async(**{argument: str(job_id)})


async def enqueue(
    app: procrastinate.App, catalog: AsyncConnectionPool, table: JobTable, job_id: uuid.UUID
) -> None:
    """Queue a job whose row is committed and record its queue entry. A failure is only
    logged: from the commit on, the sweep queues the job if this does not."""
    try:
        queue_job_id = await defer(app, table, job_id)
        async with catalog.connection() as conn:
            await jobs.set_queue_job(conn, table, job_id, queue_job_id)
    except Exception:
        log.warning("%s %s: queueing failed; the sweep will queue it", table, job_id, exc_info=True)
