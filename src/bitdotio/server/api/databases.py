"""``/v2beta/db``: list, create, get, update and delete databases (contract §2.2-2.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bitdotio.catalog import databases, jobs
from bitdotio.catalog.databases import DatabaseRecord
from bitdotio.catalog.keys import Principal
from bitdotio.catalog.names import FullName, check_database_name, parse_full_name
from bitdotio.catalog.rights import Action
from bitdotio.cluster import tenancy
from bitdotio.errors import BitError
from bitdotio.server.api import route, timestamp
from bitdotio.server.auth import CurrentPrincipal, FullUser
from bitdotio.server.state import AppState, get_state

__all__ = ["allows", "database_json", "full_name_from_path", "router"]

router = APIRouter(tags=["databases"])
State = Annotated[AppState, Depends(get_state)]


class CreateDatabase(BaseModel):
    name: str
    # Decision (contract §2.3): null means the default, true; 2.2.1 sends null for None.
    is_private: bool | None = None
    storage_limit_bytes: int | None = Field(default=None, gt=0)


class UpdateDatabase(BaseModel):
    name: str | None = None
    # The CLI sends "false"/"true" as strings (contract §3.5); pydantic's lax bool takes them.
    is_private: bool | None = None
    storage_limit_bytes: int | None = Field(default=None, gt=0)


def _usage(start: date, end: date) -> dict[str, Any]:
    # Decision: rows_queried is not metered yet and reports 0 (docs/reference/api.md).
    return {"rows_queried": 0, "period_start": start.isoformat(), "period_end": end.isoformat()}


def _periods(today: date) -> tuple[dict[str, Any], dict[str, Any]]:
    start = today.replace(day=1)
    next_start = (start + timedelta(days=32)).replace(day=1)
    prev_start = (start - timedelta(days=1)).replace(day=1)
    return (
        _usage(start, next_start - timedelta(days=1)),
        _usage(prev_start, start - timedelta(days=1)),
    )


def database_json(record: DatabaseRecord) -> dict[str, Any]:
    current, previous = _periods(datetime.now(UTC).date())
    return {
        "id": str(record.id),
        "name": record.full_name,
        "date_created": timestamp(record.date_created),
        "is_private": record.is_private,
        "role": record.role,
        "storage_limit_bytes": record.storage_limit_bytes,
        "storage_usage_bytes": record.storage_usage_bytes or 0,
        "usage_current": current,
        "usage_previous": previous,
    }


def full_name_from_path(owner: str, rest: str) -> FullName:
    """First segment the owner, the rest the name (contract §2.1); 404 if it cannot exist."""
    full = parse_full_name(f"{owner}/{rest.removesuffix('/')}")
    if full is None:
        raise BitError("BIT104")
    return full


def allows(record: DatabaseRecord, action: Action) -> bool:
    return record.access is not None and record.access.allows(action)


async def _visible(state: AppState, principal: Principal, full: FullName) -> DatabaseRecord:
    async with state.pools.catalog.connection() as conn:
        record = await databases.resolve(conn, principal, full, with_usage=True)
    if record is None:
        raise BitError("BIT104")
    return record


def _clamp(state: AppState, limit: int | None) -> int:
    if limit is None:
        return min(
            state.settings.storage_limit_default_bytes, state.settings.storage_limit_max_bytes
        )
    return min(limit, state.settings.storage_limit_max_bytes)


@route(router, "/db/", "GET")
async def list_databases(principal: CurrentPrincipal, state: State) -> dict[str, Any]:
    async with state.pools.catalog.connection() as conn:
        records = await databases.list_for(conn, principal)
    return {"databases": [database_json(r) for r in records]}


@route(router, "/db/", "POST", status_code=201)
async def create_database(body: CreateDatabase, principal: FullUser, state: State) -> JSONResponse:
    await tenancy.create_database(
        state.cluster.access,
        state.pools.catalog,
        owner_id=principal.user_id,
        owner_role=principal.role_name,
        name=body.name,
        is_private=True if body.is_private is None else body.is_private,
        storage_limit_bytes=_clamp(state, body.storage_limit_bytes),
    )
    state.cache.invalidate()
    record = await _visible(state, principal, FullName(principal.username, body.name))
    return JSONResponse(database_json(record), status_code=201)


@route(router, "/db/{owner}/{name:path}", "GET")
async def get_database(
    owner: str, name: str, principal: CurrentPrincipal, state: State
) -> dict[str, Any]:
    record = await _visible(state, principal, full_name_from_path(owner, name))
    return database_json(record)


@route(router, "/db/{owner}/{name:path}", "PATCH")
async def update_database(
    owner: str, name: str, body: UpdateDatabase, principal: CurrentPrincipal, state: State
) -> dict[str, Any]:
    full = full_name_from_path(owner, name)
    changes = body.model_dump(exclude_none=True)
    if "name" in changes:
        check_database_name(changes["name"])
    if "storage_limit_bytes" in changes:
        changes["storage_limit_bytes"] = _clamp(state, changes["storage_limit_bytes"])
    async with state.pools.catalog.connection() as conn:
        async with conn.transaction():
            record = await databases.resolve(conn, principal, full, lock=True)
            if record is None:
                raise BitError("BIT104")
            if not allows(record, "update"):
                raise BitError("BIT105", "Only the owner or an admin can update a database")
            await databases.update(
                conn, record, changes, reservation_days=state.settings.name_reservation_days
            )
            if changes.get("is_private", record.is_private) != record.is_private:
                await tenancy.apply_rights(state.cluster.access, conn, record.id)
                await state.pools.forget_database(record.physical_name)
        state.cache.invalidate()
        updated = await databases.resolve(
            conn,
            principal,
            FullName(record.owner, changes.get("name", record.name)),
            with_usage=True,
        )
    assert updated is not None
    return database_json(updated)


@route(router, "/db/{owner}/{name:path}", "DELETE")
async def delete_database(
    owner: str, name: str, principal: FullUser, state: State
) -> dict[str, Any]:
    full = full_name_from_path(owner, name)
    async with state.pools.catalog.connection() as conn, conn.transaction():
        record = await databases.resolve(conn, principal, full, lock=True, with_usage=True)
        if record is None:
            raise BitError("BIT104")
        if not allows(record, "delete"):
            raise BitError("BIT105", "Only the owner can delete a database")
        await state.pools.forget_database(record.physical_name)
        files = await jobs.files_of_database(conn, record.id)
        await tenancy.delete_database(
            state.cluster.access,
            conn,
            record,
            reservation_days=state.settings.name_reservation_days,
        )
    state.cache.invalidate()
    for key in files:
        state.runtime.store.delete(key)
    return database_json(record)


@route(router, "/db/{owner}/{name:path}", "POST")
async def post_to_database(owner: str, name: str, principal: CurrentPrincipal) -> None:
    """A database takes POSTs only at ``.../import/`` and ``.../export/``, which
    ``imports.py`` and ``exports.py`` match first."""
    raise BitError("BIT108")
