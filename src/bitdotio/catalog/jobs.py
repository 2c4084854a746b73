"""What import and export jobs share in the catalog: attempts, queue entries, orphans, purging.

Each function takes the job table (``import_jobs`` or ``export_jobs``); both have ``id``,
``state``, ``attempts``, ``queue_job_id``, ``date_created`` and ``date_finished``.
"""

from __future__ import annotations

import uuid
from typing import Literal

import psycopg
from psycopg import sql

__all__ = ["JobTable", "files_of_database", "orphans", "set_queue_job", "start_attempt"]

JobTable = Literal["import_jobs", "export_jobs"]


async def set_queue_job(
    conn: psycopg.AsyncConnection, table: JobTable, job_id: uuid.UUID, queue_job_id: int
) -> None:
    await conn.execute(
        sql.SQL("UPDATE {} SET queue_job_id = %s WHERE id = %s").format(sql.Identifier(table)),
        [queue_job_id, job_id],
    )


async def start_attempt(conn: psycopg.AsyncConnection, table: JobTable, job_id: uuid.UUID) -> bool:
    """PROCESSING, one more attempt; False if the job already ended (a duplicate delivery)."""
    cur = await conn.execute(
        sql.SQL(
            "UPDATE {} SET state = 'PROCESSING', attempts = attempts + 1"
            " WHERE id = %s AND state IN ('RECEIVED', 'PROCESSING') RETURNING id"
        ).format(sql.Identifier(table)),
        [job_id],
    )
    return await cur.fetchone() is not None


async def orphans(
    conn: psycopg.AsyncConnection, table: JobTable, older_than_s: float
) -> list[uuid.UUID]:
    """Unfinished jobs with no live queue entry: the API died between insert and defer, or the
    entry ended without finishing the job (a worker cancelled on shutdown). Reads
    procrastinate's table, which lives in the same database."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT j.id FROM {} j"
            " LEFT JOIN procrastinate_jobs q ON q.id = j.queue_job_id"
            " WHERE j.state IN ('RECEIVED', 'PROCESSING') AND CASE"
            # never queued, or its entry is gone: give the API time to defer it first
            "  WHEN q.id IS NULL THEN j.date_created < now() - make_interval(secs => %s)"
            # the entry ended but the job did not: at once
            "  ELSE q.status NOT IN ('todo', 'doing') END"
        ).format(sql.Identifier(table)),
        [older_than_s],
    )
    return [job_id for (job_id,) in await cur.fetchall()]


async def files_of_database(conn: psycopg.AsyncConnection, database_id: uuid.UUID) -> list[str]:
    """The file-store keys the database's jobs hold (uploads waiting, export files): the jobs
    go with the database (ON DELETE CASCADE), their files are deleted by the caller."""
    cur = await conn.execute(
        "SELECT upload_key FROM import_jobs WHERE database_id = %s AND upload_key IS NOT NULL"
        " UNION ALL"
        " SELECT file_key FROM export_jobs WHERE database_id = %s AND file_key IS NOT NULL",
        [database_id, database_id],
    )
    return [key for (key,) in await cur.fetchall()]
