"""One import job, start to end: fetch the file, read it, load it, record the outcome.

Idempotent, because the queue delivers at least once: a job that already ended is left alone,
and a job whose earlier attempt got as far as loading asks Postgres whether that transaction
committed (``pg_xact_status`` of the ``load_xid`` the catalog kept) before loading again.
Every failure ends the job FAILED with an ``error_type``, an ``error_id`` (also in the log,
with the traceback for our own bugs) and ``error_details`` saying where.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bitdotio.catalog import import_jobs
from bitdotio.catalog.import_jobs import ImportJobRecord
from bitdotio.cluster.provisioning import platform_connection
from bitdotio.imports.download import download
from bitdotio.imports.read import read_file
from bitdotio.imports.source import ImportFailure, ImportLimits, InferHeader
from bitdotio.jobs.load import LoadedTable, load
from bitdotio.jobs.outcome import failed, internal_error
from bitdotio.jobs.rights import JobDenied, tenant_conninfo
from bitdotio.jobs.runtime import Runtime
from bitdotio.jobs.threads import until_cancelled

__all__ = ["MAX_ATTEMPTS", "run"]

log = logging.getLogger("bitdotio.jobs")

MAX_ATTEMPTS = 3  # a file that keeps killing its worker is failed, not retried forever
_IN_PROGRESS_WAIT_S = 60.0


async def run(runtime: Runtime, job_id: uuid.UUID) -> None:
    async with runtime.catalog.connection() as conn:
        job = await import_jobs.start_attempt(conn, job_id)
    if job is None:
        return  # already DONE or FAILED: a duplicate delivery
    outcome: dict[str, Any]
    try:
        if job.load_xid is not None and await _already_loaded(runtime, job):
            log.info("import %s: attempt %d found its rows already committed", job.id, job.attempts)
            outcome = {"result": job.result or {}}
        elif job.attempts > MAX_ATTEMPTS:
            raise ImportFailure(
                "Interrupted",
                f"The import was interrupted {job.attempts - 1} times (the worker stopped while "
                "loading it) and was given up. Try again, or split the file.",
            )
        else:
            conninfo = await tenant_conninfo(
                runtime,
                user_id=job.user_id,
                key_id=job.key_id,
                database_id=job.database_id,
                action="write",
            )
            outcome = {"result": await _attempt(runtime, job, conninfo)}
    except ImportFailure as failure:
        outcome = failed("import", job.id, failure.error_type, failure.as_details())
    except JobDenied as denied:
        outcome = failed("import", job.id, denied.error_type, {"message": denied.message})
    except Exception:
        outcome = internal_error("import", job.id)
    async with runtime.catalog.connection() as conn:
        for key in await import_jobs.finish(conn, job.id, **outcome):
            runtime.store.delete(key)


async def _already_loaded(runtime: Runtime, job: ImportJobRecord) -> bool:
    """Did the load transaction of an earlier attempt commit? Waits while it is still open
    (its worker's connection may take a moment to be noticed gone). Asked as the platform:
    the answer must not depend on the key still working, and it touches no tenant object."""
    deadline = time.monotonic() + _IN_PROGRESS_WAIT_S
    async with platform_connection(runtime.access, job.physical_name) as conn:
        while True:
            cur = await conn.execute(
                "SELECT pg_catalog.pg_xact_status(%s::text::xid8)", [str(job.load_xid)]
            )
            row = await cur.fetchone()
            status = row[0] if row else None
            if status != "in progress" or time.monotonic() > deadline:
                return status == "committed"
            await asyncio.sleep(0.5)


async def _attempt(runtime: Runtime, job: ImportJobRecord, conninfo: str) -> dict[str, Any]:
    settings = runtime.settings
    scratch = runtime.scratch(job.id)
    loop = asyncio.get_running_loop()

    def in_catalog(write: Callable[..., Awaitable[None]], *args: Any) -> None:
        """From the load thread: ``write(conn, job.id, *args)`` on the loop, and wait."""

        async def run() -> None:
            async with runtime.catalog.connection() as conn:
                await write(conn, job.id, *args)

        asyncio.run_coroutine_threadsafe(run(), loop).result()

    def result_of(tables: list[LoadedTable]) -> dict[str, Any]:
        return {"tables": [t.as_json() for t in tables], **extra}

    extra: dict[str, Any] = {}
    stop = threading.Event()  # set when the worker stops: threads give up at once
    try:
        if job.file_url is not None:
            path = scratch / "download"
            await until_cancelled(
                stop,
                asyncio.to_thread(
                    download,
                    job.file_url,
                    path,
                    max_bytes=settings.import_url_max_bytes,
                    timeout_s=settings.import_url_timeout_s,
                    allow_private=settings.import_allow_private_urls,
                    stop=stop,
                ),
            )
        else:
            assert job.upload_key is not None
            if not runtime.store.exists(job.upload_key):
                raise ImportFailure("FileMissing", "The uploaded file is no longer available")
            path = runtime.store.local_path(job.upload_key)
        limits = ImportLimits.from_settings(settings, scratch_dir=str(scratch))
        infer_header: InferHeader = job.infer_header  # type: ignore[assignment]
        started = time.monotonic()
        parsed = await asyncio.to_thread(
            read_file, path, table_name=job.table_name, infer_header=infer_header, limits=limits
        )
        extra["format"] = parsed.format
        extra["skipped"] = [
            {"name": s.name, "kind": s.kind, "reason": s.reason} for s in parsed.skipped
        ]
        read_s = time.monotonic() - started
        loading = asyncio.to_thread(
            load,
            conninfo,
            parsed,
            job_id=job.id,
            schema=job.schema_name,
            timeout_s=settings.import_timeout_s,
            copy_streams=settings.import_copy_streams,
            on_xid=lambda xid: in_catalog(import_jobs.set_load_xid, xid),
            before_commit=lambda tables: in_catalog(import_jobs.set_result, result_of(tables)),
            stop=stop,
        )
        tables = await until_cancelled(stop, loading)
        log.info(
            "import %s: %s read in %.2f s, %d rows loaded in %.2f s",
            job.id,
            parsed.format,
            read_s,
            sum(t.rows for t in tables),
            time.monotonic() - started - read_s,
        )
        return result_of(tables)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
