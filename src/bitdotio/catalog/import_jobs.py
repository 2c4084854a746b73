"""Import jobs in the catalog: the rows behind ``/v2beta/import`` and the worker's bookkeeping.

A job's row says what to load, where, as whom, and how far it got; ``load_xid`` names the tenant
transaction that loads it, so a retried job can tell whether the rows are already in
(``pg_xact_status``) instead of loading them twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from bitdotio.catalog import jobs

__all__ = [
    "ImportJobRecord",
    "finish",
    "get",
    "insert",
    "purge",
    "set_load_xid",
    "set_result",
    "start_attempt",
]


@dataclass(frozen=True)
class ImportJobRecord:
    id: uuid.UUID
    database_id: uuid.UUID
    user_id: uuid.UUID
    table_name: str
    schema_name: str
    infer_header: str
    upload_key: str | None
    file_url: str | None
    state: str
    attempts: int
    load_xid: int | None
    date_created: datetime
    date_finished: datetime | None
    error_type: str | None
    error_id: uuid.UUID | None
    error_details: dict[str, Any] | None
    result: dict[str, Any] | None
    key_id: uuid.UUID | None  # the key that started it: the job acts with its rights
    physical_name: str  # the database to load into

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)


_SELECT = """
SELECT j.id, j.database_id, j.user_id, j.table_name, j.schema_name, j.infer_header,
       j.upload_key, j.file_url, j.state, j.attempts, j.load_xid::text::bigint AS load_xid,
       j.date_created, j.date_finished, j.error_type, j.error_id, j.error_details, j.result,
       j.key_id, d.physical_name
FROM import_jobs j
JOIN databases d ON d.id = j.database_id
"""


async def _one(
    conn: psycopg.AsyncConnection, where: str, params: list[Any]
) -> ImportJobRecord | None:
    async with conn.cursor(row_factory=class_row(ImportJobRecord)) as cur:
        await cur.execute(_SELECT + where, params)
        return await cur.fetchone()


async def insert(
    conn: psycopg.AsyncConnection,
    *,
    database_id: uuid.UUID,
    user_id: uuid.UUID,
    table_name: str,
    schema_name: str,
    infer_header: str,
    upload_key: str | None,
    file_url: str | None,
    key_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
) -> ImportJobRecord:
    job_id = job_id or uuid.uuid4()
    await conn.execute(
        "INSERT INTO import_jobs (id, database_id, user_id, key_id, table_name, schema_name,"
        " infer_header, upload_key, file_url) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            job_id,
            database_id,
            user_id,
            key_id,
            table_name,
            schema_name,
            infer_header,
            upload_key,
            file_url,
        ],
    )
    record = await _one(conn, "WHERE j.id = %s", [job_id])
    assert record is not None
    return record


async def get(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> ImportJobRecord | None:
    return await _one(conn, "WHERE j.id = %s", [job_id])


async def start_attempt(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> ImportJobRecord | None:
    """PROCESSING, one more attempt; None if the job already ended (a duplicate delivery)."""
    if not await jobs.start_attempt(conn, "import_jobs", job_id):
        return None
    return await get(conn, job_id)


async def set_load_xid(conn: psycopg.AsyncConnection, job_id: uuid.UUID, xid: int) -> None:
    await conn.execute(
        "UPDATE import_jobs SET load_xid = %s::text::xid8 WHERE id = %s", [str(xid), job_id]
    )


async def set_result(
    conn: psycopg.AsyncConnection, job_id: uuid.UUID, result: dict[str, Any]
) -> None:
    """What the load transaction is about to commit, so a retry that finds it committed can
    report it."""
    await conn.execute("UPDATE import_jobs SET result = %s WHERE id = %s", [Jsonb(result), job_id])


async def finish(
    conn: psycopg.AsyncConnection,
    job_id: uuid.UUID,
    *,
    result: dict[str, Any] | None = None,
    error_type: str | None = None,
    error_id: uuid.UUID | None = None,
    error_details: dict[str, Any] | None = None,
) -> list[str]:
    """DONE (``result``) or FAILED (``error_*``); returns the upload keys now unneeded."""
    state = "FAILED" if error_type else "DONE"
    cur = await conn.execute(
        "UPDATE import_jobs SET state = %s, date_finished = now(), result = %s,"
        " error_type = %s, error_id = %s, error_details = %s"
        " WHERE id = %s AND state IN ('RECEIVED', 'PROCESSING') RETURNING upload_key",
        [
            state,
            Jsonb(result) if result is not None else None,
            error_type,
            error_id,
            Jsonb(error_details) if error_details is not None else None,
            job_id,
        ],
    )
    return [key for (key,) in await cur.fetchall() if key]


async def purge(conn: psycopg.AsyncConnection, retention_days: int) -> int:
    """Forget jobs that ended more than ``retention_days`` ago."""
    cur = await conn.execute(
        "DELETE FROM import_jobs WHERE date_finished < now() - make_interval(days => %s)",
        [retention_days],
    )
    return cur.rowcount
