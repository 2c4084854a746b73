"""Export jobs in the catalog: the rows behind ``/v2beta/export`` and the finished files."""

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
    "ExportJobRecord",
    "expired_files",
    "finish",
    "get",
    "insert",
    "purge",
    "start_attempt",
]


@dataclass(frozen=True)
class ExportJobRecord:
    id: uuid.UUID
    database_id: uuid.UUID
    user_id: uuid.UUID
    export_format: str
    query_string: str | None
    schema_name: str | None
    table_name: str | None
    file_name: str
    escape_formulas: bool
    state: str
    attempts: int
    date_created: datetime
    date_finished: datetime | None
    error_type: str | None
    error_id: uuid.UUID | None
    error_details: dict[str, Any] | None
    file_key: str | None
    size_bytes: int | None
    row_count: int | None
    expires_at: datetime | None
    key_id: uuid.UUID | None  # the key that started it: the job acts with its rights
    physical_name: str  # the database to read

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)


_SELECT = """
SELECT j.id, j.database_id, j.user_id, j.export_format, j.query_string, j.schema_name,
       j.table_name, j.file_name, j.escape_formulas, j.state, j.attempts, j.date_created,
       j.date_finished, j.error_type, j.error_id, j.error_details, j.file_key, j.size_bytes,
       j.row_count, j.expires_at, j.key_id, d.physical_name
FROM export_jobs j
JOIN databases d ON d.id = j.database_id
"""


async def _one(
    conn: psycopg.AsyncConnection, where: str, params: list[Any]
) -> ExportJobRecord | None:
    async with conn.cursor(row_factory=class_row(ExportJobRecord)) as cur:
        await cur.execute(_SELECT + where, params)
        return await cur.fetchone()


async def insert(
    conn: psycopg.AsyncConnection,
    *,
    database_id: uuid.UUID,
    user_id: uuid.UUID,
    export_format: str,
    query_string: str | None,
    table: tuple[str, str] | None,
    file_name: str,
    escape_formulas: bool,
    key_id: uuid.UUID | None = None,
) -> ExportJobRecord:
    job_id = uuid.uuid4()
    schema_name, table_name = table or (None, None)
    await conn.execute(
        "INSERT INTO export_jobs (id, database_id, user_id, key_id, export_format, query_string,"
        " schema_name, table_name, file_name, escape_formulas)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            job_id,
            database_id,
            user_id,
            key_id,
            export_format,
            query_string,
            schema_name,
            table_name,
            file_name,
            escape_formulas,
        ],
    )
    record = await get(conn, job_id)
    assert record is not None
    return record


async def get(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> ExportJobRecord | None:
    return await _one(conn, "WHERE j.id = %s", [job_id])


async def start_attempt(conn: psycopg.AsyncConnection, job_id: uuid.UUID) -> ExportJobRecord | None:
    """PROCESSING, one more attempt; None if the job already ended (a duplicate delivery)."""
    if not await jobs.start_attempt(conn, "export_jobs", job_id):
        return None
    return await get(conn, job_id)


async def finish(
    conn: psycopg.AsyncConnection,
    job_id: uuid.UUID,
    *,
    file_key: str | None = None,
    size_bytes: int | None = None,
    row_count: int | None = None,
    link_lifetime_s: float = 0,
    error_type: str | None = None,
    error_id: uuid.UUID | None = None,
    error_details: dict[str, Any] | None = None,
) -> bool:
    """DONE (with its file) or FAILED (``error_*``); False if the job had already ended."""
    state = "FAILED" if error_type else "DONE"
    cur = await conn.execute(
        "UPDATE export_jobs SET state = %s, date_finished = now(), file_key = %s,"
        " size_bytes = %s, row_count = %s,"
        " expires_at = CASE WHEN %s::text IS NULL THEN NULL"
        "  ELSE now() + make_interval(secs => %s) END,"
        " error_type = %s, error_id = %s, error_details = %s"
        " WHERE id = %s AND state IN ('RECEIVED', 'PROCESSING') RETURNING id",
        [
            state,
            file_key,
            size_bytes,
            row_count,
            file_key,
            link_lifetime_s,
            error_type,
            error_id,
            Jsonb(error_details) if error_details is not None else None,
            job_id,
        ],
    )
    return await cur.fetchone() is not None


async def expired_files(conn: psycopg.AsyncConnection) -> list[str]:
    """Forget the files whose links have expired; returns their keys, to delete from the store
    (a key forgotten here and not deleted is only disk, never a working link)."""
    cur = await conn.execute(
        "WITH old AS (SELECT id, file_key FROM export_jobs"
        "  WHERE file_key IS NOT NULL AND expires_at < now() FOR UPDATE)"
        " UPDATE export_jobs j SET file_key = NULL FROM old WHERE j.id = old.id"
        " RETURNING old.file_key"
    )
    return [key for (key,) in await cur.fetchall() if key]


async def purge(conn: psycopg.AsyncConnection, retention_days: int) -> list[str]:
    """Forget jobs that ended more than ``retention_days`` ago; returns their file keys."""
    cur = await conn.execute(
        "DELETE FROM export_jobs WHERE date_finished < now() - make_interval(days => %s)"
        " RETURNING file_key",
        [retention_days],
    )
    return [key for (key,) in await cur.fetchall() if key]
