"""``/v2beta/db/{owner}/{name}/import/`` and ``/v2beta/import/{id}`` (contract §2.2 rows 6-7).

Creating a job stores the upload, writes the job's row and queues it; the work happens in a
worker (``bitdotio.jobs``). The caller needs write access to the database (OWNER, ADMIN or
WRITER); the worker then loads as the caller's own role, so Postgres checks again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bitdotio.catalog import databases, import_jobs
from bitdotio.catalog.import_jobs import ImportJobRecord
from bitdotio.errors import BitError
from bitdotio.jobs.queue import enqueue
from bitdotio.server.api import identifier, invalid, route
from bitdotio.server.api.databases import allows, full_name_from_path
from bitdotio.server.auth import CurrentPrincipal
from bitdotio.server.job_views import job_fields, visible_job
from bitdotio.server.state import AppState, get_state
from bitdotio.server.upload import ImportForm, read_form

__all__ = ["import_job_json", "router"]


router = APIRouter(tags=["imports"])
State = Annotated[AppState, Depends(get_state)]

_INFER_HEADER = ("auto", "first_row", "no_header")


def import_job_json(job: ImportJobRecord, base_url: str) -> dict[str, Any]:
    body = job_fields(job, f"{base_url}/v2beta/import/{job.id}")
    if job.state == "DONE":
        body["result"] = job.result  # extension: tables loaded, rows, skipped objects
    return body


def _identifier(form: ImportForm, field: str, default: str | None = None) -> str:
    value = form.fields.get(field) or default
    if not value:
        raise invalid(field, "field required", "value_error.missing")
    return identifier(field, value)


def _validated(form: ImportForm) -> tuple[str, str, str, str | None]:
    table_name = _identifier(form, "table_name")
    schema_name = _identifier(form, "schema_name", "public")
    infer_header = form.fields.get("infer_header") or "auto"
    if infer_header not in _INFER_HEADER:
        raise invalid(
            "infer_header",
            'string does not match regex "^(auto|first_row|no_header)$"',
            "value_error.str.regex",
        )
    file_url = form.fields.get("file_url") or None
    if (form.upload_key is None) == (file_url is None):
        raise BitError("BIT403", "A file XOR a file_url is required")
    if file_url is not None and not file_url.lower().startswith(("http://", "https://")):
        raise BitError("BIT403", "file_url must be an http:// or https:// URL")
    return table_name, schema_name, infer_header, file_url


@route(router, "/db/{owner}/{name:path}/import/", "POST", status_code=201)
async def create_import_job(
    owner: str, name: str, request: Request, principal: CurrentPrincipal, state: State
) -> JSONResponse:
    full = full_name_from_path(owner, name)
    async with state.pools.catalog.connection() as conn:
        record = await databases.resolve(conn, principal, full)
    if record is None:
        raise BitError("BIT104")
    if not allows(record, "write"):
        raise BitError("BIT105", "Importing needs write access to the database")
    store = state.runtime.store
    form = await read_form(request, store, max_upload_bytes=state.settings.import_max_upload_bytes)
    try:
        table_name, schema_name, infer_header, file_url = _validated(form)
        async with state.pools.catalog.connection() as conn:
            job = await import_jobs.insert(
                conn,
                database_id=record.id,
                user_id=principal.user_id,
                key_id=principal.key_id,
                table_name=table_name,
                schema_name=schema_name,
                infer_header=infer_header,
                upload_key=form.upload_key,
                file_url=file_url,
            )
    except BaseException:
        if form.upload_key:
            store.delete(form.upload_key)
        raise
    await enqueue(state.queue, state.pools.catalog, "import_jobs", job.id)
    return JSONResponse(import_job_json(job, state.base_url(request)), status_code=201)


@route(router, "/import/{import_id}", "GET")
async def get_import_job(
    import_id: str, request: Request, principal: CurrentPrincipal, state: State
) -> dict[str, Any]:
    job = await visible_job(state, principal, import_id, import_jobs.get, "BIT401")
    return import_job_json(job, state.base_url(request))
