"""The tasks workers run: import and export jobs, and the sweep that keeps the queue honest.

The sweep runs every 10 seconds on some worker (procrastinate defers periodic tasks once,
whatever the number of workers). It starts again the jobs of workers that stopped sending
heartbeats (at-least-once delivery: ``imports.run`` and ``exports.run`` are idempotent),
re-queues jobs whose queue entry was lost, deletes export files whose links have expired, and
forgets jobs past their retention.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import procrastinate

from bitdotio.catalog import export_jobs, import_jobs, jobs
from bitdotio.jobs import exports, imports
from bitdotio.jobs.queue import EXPORT_TASK, IMPORT_TASK, SWEEP_TASK, defer
from bitdotio.jobs.runtime import Runtime

__all__ = ["register"]

log = logging.getLogger("bitdotio.jobs")

_ORPHAN_AFTER_S = 60.0


def _runtime(context: procrastinate.JobContext) -> Runtime:
    runtime: Runtime = context.additional_context["runtime"]
    return runtime


async def import_task(context: procrastinate.JobContext, import_id: str) -> None:
    await imports.run(_runtime(context), uuid.UUID(import_id))


async def export_task(context: procrastinate.JobContext, export_id: str) -> None:
    await exports.run(_runtime(context), uuid.UUID(export_id))


async def sweep_task(context: procrastinate.JobContext, timestamp: int) -> None:
    runtime = _runtime(context)
    app = context.app
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=runtime.settings.worker_stalled_after_s
    )
    for job in stalled:
        log.warning("job %s (%s) lost its worker; starting it again", job.id, job.task_name)
        await manager.retry_job(job)
    retention = runtime.settings.job_retention_days
    async with runtime.catalog.connection() as conn:
        tables: tuple[jobs.JobTable, ...] = ("import_jobs", "export_jobs")
        for table in tables:
            for job_id in await jobs.orphans(conn, table, _ORPHAN_AFTER_S):
                log.warning("%s %s lost its queue entry; queueing it again", table, job_id)
                await jobs.set_queue_job(conn, table, job_id, await defer(app, table, job_id))
        purged = await import_jobs.purge(conn, retention)
        stale = await export_jobs.expired_files(conn) + await export_jobs.purge(conn, retention)
    for key in stale:
        runtime.store.delete(key)
    if purged or stale:
        log.info("forgot %d finished import jobs; deleted %d export files", purged, len(stale))


def register(app: procrastinate.App) -> None:
    app.task(name=IMPORT_TASK, queue="imports", pass_context=True)(import_task)
    app.task(name=EXPORT_TASK, queue="exports", pass_context=True)(export_task)
    sweep: Any = app.task(
        name=SWEEP_TASK, queue="maintenance", pass_context=True, queueing_lock=SWEEP_TASK
    )(sweep_task)
    # croniter reads a sixth field as the seconds: every 10 seconds.
    app.periodic(cron="* * * * * */10", periodic_id="sweep")(sweep)
