"""``/v2beta/db/{owner}/{name}/export/``, ``/v2beta/export/{id}`` (contract §2.2 rows 8-9) and
the download behind ``download_url``.

Creating a job checks the request and queues it; a worker writes the file as the caller's own
role, so Postgres decides what the export may read. Any role on the database (READER
included) may export. The download needs no API key, only a valid signed link
(``server/download_links.py``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from bitdotio.catalog import databases, export_jobs
from bitdotio.catalog.export_jobs import ExportJobRecord
from bitdotio.errors import BitError
from bitdotio.exports.formats import FORMATS, default_file_name, safe_file_name
from bitdotio.jobs.queue import enqueue
from bitdotio.server.api import identifier, invalid, json_body, route, timestamp
from bitdotio.server.api.databases import full_name_from_path
from bitdotio.server.auth import CurrentPrincipal
from bitdotio.server.download_links import LinkSigner
from bitdotio.server.job_views import job_fields, visible_job
from bitdotio.server.state import AppState, get_state

__all__ = ["export_job_json", "router"]


router = APIRouter(tags=["exports"])
State = Annotated[AppState, Depends(get_state)]


class CreateExport(BaseModel):
    export_format: Literal["csv", "json", "xls", "parquet"]
    query_string: str | None = None
    table_name: str | None = None
    schema_name: str | None = None
    file_name: str | None = None
    escape_formulas: bool = True  # extension: CSV only; see docs/reference/exports.md


def export_job_json(job: ExportJobRecord, base_url: str, links: LinkSigner) -> dict[str, Any]:
    body = job_fields(job, f"{base_url}/v2beta/export/{job.id}")
    body.update(export_format=job.export_format, file_name=job.file_name, download_url=None)
    if job.state == "DONE" and job.expires_at is not None:
        body["download_url"] = links.url(base_url, job.id, job.expires_at)
        body["result"] = {  # extension
            "rows": job.row_count,
            "size_bytes": job.size_bytes,
            "expires_at": timestamp(job.expires_at),
        }
    return body


def _validated(body: CreateExport) -> tuple[str | None, tuple[str, str] | None, str]:
    query_string = body.query_string
    if (query_string is None) == (body.table_name is None):
        raise BitError("BIT406")
    table = None
    if body.table_name is not None:
        schema = body.schema_name or "public"
        table = (identifier("schema_name", schema), identifier("table_name", body.table_name))
    elif query_string is not None:
        if not query_string.strip():
            raise invalid("query_string", "must not be empty", "value_error")
        if "\x00" in query_string:
            raise invalid("query_string", "must not contain NUL", "value_error")
    file_name = safe_file_name(body.file_name or "") or default_file_name(
        body.export_format, body.table_name
    )
    return query_string, table, file_name


@route(router, "/db/{owner}/{name:path}/export/", "POST", status_code=201)
async def create_export_job(
    owner: str, name: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    full = full_name_from_path(owner, name)
    body = await json_body(request, CreateExport)
    query_string, table, file_name = _validated(body)
    async with state.pools.catalog.connection() as conn:
        record = await databases.resolve(conn, principal, full)
        if record is None:
            raise BitError("BIT104")
        job = await export_jobs.insert(
            conn,
            database_id=record.id,
            user_id=principal.user_id,
            key_id=principal.key_id,
            export_format=body.export_format,
            query_string=query_string,
            table=table,
            file_name=file_name,
            escape_formulas=body.escape_formulas,
        )
    await enqueue(state.queue, state.pools.catalog, "export_jobs", job.id)
    return JSONResponse(_json(state, request, job), status_code=201)


def _json(state: AppState, request: Request, job: ExportJobRecord) -> dict[str, Any]:
    assert state.links is not None
    return export_job_json(job, state.base_url(request), state.links)


@route(router, "/export/{export_id}", "GET")
async def get_export_job(
    export_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> dict[str, Any]:
    job = await visible_job(state, principal, export_id, export_jobs.get, "BIT405")
    return _json(state, request, job)


@route(router, "/export/{export_id}/download", "GET")
async def download_export(
    export_id: str, state: State, expires: str = "", signature: str = ""
) -> FileResponse:
    assert state.links is not None
    job_id = state.links.check(export_id, expires, signature, time.time())
    async with state.pools.catalog.connection() as conn:
        job = await export_jobs.get(conn, job_id)
    store = state.runtime.store
    if job is None or job.file_key is None or not store.exists(job.file_key):
        raise BitError("BIT409")
    return FileResponse(
        store.local_path(job.file_key),
        media_type=FORMATS[job.export_format].media_type,
        filename=job.file_name,
    )
