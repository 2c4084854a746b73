"""The tasks workers run: an import job, and the sweep that keeps the queue honest.

The sweep runs every 10 seconds on some worker (procrastinate defers periodic tasks once,
whatever the number of workers). It starts again the jobs of workers that stopped sending
heartbeats (at-least-once delivery: ``imports.run`` is idempotent), re-queues import jobs whose
queue entry was lost, and forgets jobs past their retention.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import procrastinate

from bitdotio.catalog import import_jobs
from bitdotio.jobs import imports
from bitdotio.jobs.queue import IMPORT_TASK, SWEEP_TASK, defer_import
from bitdotio.jobs.runtime import Runtime

__all__ = ["register"]

log = logging.getLogger("bitdotio.jobs")

_ORPHAN_AFTER_S = 60.0


def _runtime(context: procrastinate.JobContext) -> Runtime:
    runtime: Runtime = context.additional_context["runtime"]
    return runtime


async def import_task(context: procrastinate.JobContext, import_id: str) -> None:
    await imports.run(_runtime(context), uuid.UUID(import_id))


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
    async with runtime.catalog.connection() as conn:
        orphans = await import_jobs.orphans(conn, _ORPHAN_AFTER_S)
        for job_id in orphans:
            log.warning("import %s lost its queue entry; queueing it again", job_id)
            await import_jobs.set_queue_job(conn, job_id, await defer_import(app, job_id))
        purged = await import_jobs.purge(conn, runtime.settings.job_retention_days)
    if purged:
        log.info("forgot %d finished import jobs", purged)


def register(app: procrastinate.App) -> None:
    app.task(name=IMPORT_TASK, queue="imports", pass_context=True)(import_task)
    sweep: Any = app.task(
        name=SWEEP_TASK, queue="maintenance", pass_context=True, queueing_lock=SWEEP_TASK
    )(sweep_task)
    # croniter reads a sixth field as the seconds: every 10 seconds.
    app.periodic(cron="* * * * * */10", periodic_id="sweep")(sweep)
