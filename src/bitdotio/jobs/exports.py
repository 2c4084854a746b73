"""One export job, start to end: read as the caller, write the file, record the outcome.

At least once, like imports: a job that already ended is left alone, and a repeated attempt
writes a new file (the export only reads, so running it twice changes nothing). The file is
written under a ``.partial`` name and appears only when complete, so a job is never DONE with
a broken file: any error, disk full included, ends it FAILED and leaves no file behind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Any

from bitdotio.catalog import export_jobs
from bitdotio.catalog.export_jobs import ExportJobRecord
from bitdotio.exports.formats import FORMATS, ExportFailure
from bitdotio.exports.write import ExportRequest, export
from bitdotio.jobs.outcome import failed, internal_error
from bitdotio.jobs.rights import JobDenied, tenant_conninfo
from bitdotio.jobs.runtime import Runtime
from bitdotio.jobs.threads import until_cancelled
from bitdotio.storage import new_key

__all__ = ["MAX_ATTEMPTS", "run"]

log = logging.getLogger("bitdotio.jobs")

MAX_ATTEMPTS = 3


async def run(runtime: Runtime, job_id: uuid.UUID) -> None:
    async with runtime.catalog.connection() as conn:
        job = await export_jobs.start_attempt(conn, job_id)
    if job is None:
        return  # already DONE or FAILED: a duplicate delivery
    outcome: dict[str, Any]
    try:
        if job.attempts > MAX_ATTEMPTS:
            raise ExportFailure(
                "Interrupted",
                f"The export was interrupted {job.attempts - 1} times (its worker stopped) "
                "and was given up. Try again, or export fewer rows.",
            )
        conninfo = await tenant_conninfo(
            runtime,
            user_id=job.user_id,
            key_id=job.key_id,
            database_id=job.database_id,
            action="read",
        )
        outcome = await _attempt(runtime, job, conninfo)
    except ExportFailure as failure:
        outcome = failed("export", job.id, failure.error_type, failure.as_details())
    except JobDenied as denied:
        outcome = failed("export", job.id, denied.error_type, {"message": denied.message})
    except Exception:
        outcome = internal_error("export", job.id)
    async with runtime.catalog.connection() as conn:
        finished = await export_jobs.finish(conn, job.id, **outcome)
    if not finished and outcome.get("file_key"):
        runtime.store.delete(outcome["file_key"])  # another attempt finished it first


async def _attempt(runtime: Runtime, job: ExportJobRecord, conninfo: str) -> dict[str, Any]:
    settings = runtime.settings
    key = f"{new_key('exports')}.{FORMATS[job.export_format].extension}"
    request = ExportRequest(
        export_format=job.export_format,
        query_string=job.query_string,
        table=(job.schema_name, job.table_name)
        if job.schema_name is not None and job.table_name is not None
        else None,
        escape_formulas=job.escape_formulas,
    )
    stop = threading.Event()

    def produce() -> tuple[int, int]:
        try:
            with runtime.store.writer(key) as out:
                rows = export(
                    conninfo, request, out, timeout_s=settings.export_timeout_s, stop=stop
                )
                out.flush()
                size = out.tell()
        except OSError as error:
            raise ExportFailure(
                "StorageError",
                f"The export file could not be written ({error.strerror or error}); "
                "nothing was kept. Try again later.",
            ) from None
        return rows, size

    started = asyncio.get_running_loop().time()
    rows, size = await until_cancelled(stop, asyncio.to_thread(produce))
    log.info(
        "export %s: %d rows, %d bytes of %s in %.2f s",
        job.id,
        rows,
        size,
        job.export_format,
        asyncio.get_running_loop().time() - started,
    )
    return {
        "file_key": key,
        "size_bytes": size,
        "row_count": rows,
        "link_lifetime_s": settings.export_link_lifetime_s,
    }
