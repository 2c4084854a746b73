"""What the import and export job endpoints share: who may see a job, and the fields of
bit.io's ImportJob and ExportJob shapes (contract §2.4)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import psycopg

from bitdotio.catalog import databases
from bitdotio.catalog.keys import Principal
from bitdotio.errors import BitError
from bitdotio.server.api import timestamp
from bitdotio.server.state import AppState

__all__ = ["job_fields", "visible_job"]


class Job(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def database_id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def date_created(self) -> datetime: ...
    @property
    def date_finished(self) -> datetime | None: ...
    @property
    def state(self) -> str: ...
    @property
    def retries(self) -> int: ...
    @property
    def error_type(self) -> str | None: ...
    @property
    def error_id(self) -> uuid.UUID | None: ...
    @property
    def error_details(self) -> dict[str, Any] | None: ...


J = TypeVar("J", bound=Job)


def job_fields(job: Job, status_url: str) -> dict[str, Any]:
    """The fields both shapes have; ``error_details`` is bit.io's for imports, ours for
    exports (what went wrong, in words)."""
    return {
        "id": str(job.id),
        "date_created": timestamp(job.date_created),
        "date_finished": timestamp(job.date_finished),
        "state": job.state,
        "retries": job.retries,
        "error_type": job.error_type,
        "error_id": str(job.error_id) if job.error_id else None,
        "error_details": job.error_details,
        "status_url": status_url,
    }


async def visible_job(
    state: AppState,
    principal: Principal,
    job_id: str,
    get: Callable[[psycopg.AsyncConnection, uuid.UUID], Awaitable[J | None]],
    not_found: str,
) -> J:
    """The job ``get`` finds, if ``principal`` may see it: whoever may see its database and
    either has a role there or started the job (a reader of a public database sees only their
    own jobs); else the ``not_found`` error, for ids that are not UUIDs too."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise BitError(not_found) from None
    async with state.pools.catalog.connection() as conn:
        job = await get(conn, parsed)
        record = None if job is None else await databases.by_id(conn, principal, job.database_id)
    if job is None or record is None:
        raise BitError(not_found)
    if record.grant is None and job.user_id != principal.user_id:
        raise BitError(not_found)
    return job
