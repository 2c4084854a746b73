"""``/v2beta/db/{owner}/{name}/collaborators/``: who holds which role on a database.

bit.io managed collaborators in its web console only; these endpoints are ours (documented in
docs/reference/api.md). Anyone with a role on the database may list them. OWNER and ADMIN
manage them; only the OWNER gives or takes the ADMIN role. Only the OWNER gives OWNER: that
transfers the database to that user's namespace, the old owner staying on as ADMIN. The OWNER
cannot be removed. Anyone may remove themselves. Every change is applied to Postgres at
once (``tenancy.apply_rights``), ending the sessions that lost a right.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from bitdotio.catalog import databases, grants, users
from bitdotio.catalog.databases import DatabaseRecord
from bitdotio.catalog.grants import Collaborator
from bitdotio.catalog.keys import Principal
from bitdotio.cluster import tenancy
from bitdotio.errors import BitError
from bitdotio.server.api import route, timestamp
from bitdotio.server.api.databases import allows, full_name_from_path
from bitdotio.server.auth import CurrentPrincipal, FullUser
from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["collaborators"])
State = Annotated[AppState, Depends(get_state)]


class SetRole(BaseModel):
    role: Literal["OWNER", "ADMIN", "WRITER", "READER"]


def collaborator_json(c: Collaborator) -> dict[str, Any]:
    return {"username": c.username, "role": c.role, "date_granted": timestamp(c.date_granted)}


@route(router, "/db/{owner}/{name:path}/collaborators/", "GET")
async def list_collaborators(
    owner: str, name: str, principal: CurrentPrincipal, state: State
) -> dict[str, Any]:
    async with state.pools.catalog.connection() as conn:
        record = await databases.resolve(conn, principal, full_name_from_path(owner, name))
        if record is None:
            raise BitError("BIT104")
        if record.grant is None:
            raise BitError("BIT105", "Only collaborators can see who the collaborators are")
        found = await grants.list_for(conn, record.id)
    return {"collaborators": [collaborator_json(c) for c in found]}


def _check_change(
    record: DatabaseRecord, principal: Principal, current: str | None, new: str | None
) -> None:
    """May ``principal`` change a collaborator from ``current`` to ``new`` (None: absent)?"""
    if not allows(record, "manage"):
        raise BitError("BIT105", "Only the owner or an admin can manage collaborators")
    if current == "OWNER":
        raise BitError("BIT112", "The owner's role cannot be changed or removed here")
    if "ADMIN" in (current, new) and record.role != "OWNER":
        raise BitError("BIT105", "Only the owner can give or take the ADMIN role")


async def _target(
    conn: psycopg.AsyncConnection, principal: Principal, owner: str, name: str, username: str
) -> tuple[DatabaseRecord, uuid.UUID, str | None]:
    """The database (locked), the user named ``username`` and their current role on it."""
    record = await databases.resolve(conn, principal, full_name_from_path(owner, name), lock=True)
    if record is None:
        raise BitError("BIT104")
    user_id = await users.id_by_name(conn, username)
    if user_id is None:
        raise BitError("BIT111", f"No user is named {username!r}")
    return record, user_id, await grants.role_of(conn, record.id, user_id)


@route(router, "/db/{owner}/{name:path}/collaborators/{username}", "PUT")
async def set_collaborator(
    owner: str, name: str, username: str, body: SetRole, principal: FullUser, state: State
) -> dict[str, Any]:
    async with state.pools.catalog.connection() as conn, conn.transaction():
        record, user_id, current = await _target(conn, principal, owner, name, username)
        if body.role == "OWNER":
            if current != "OWNER":
                if record.role != "OWNER":
                    raise BitError("BIT105", "Only the owner can transfer a database")
                await databases.transfer(
                    conn, record, user_id, reservation_days=state.settings.name_reservation_days
                )
        else:
            _check_change(record, principal, current, body.role)
            await grants.set_role(conn, record.id, user_id, body.role)
        await tenancy.apply_rights(state.cluster.access, conn, record.id)
        await state.pools.forget_database(record.physical_name)  # their sessions just ended
        found = [
            c
            for c in await grants.list_for(conn, record.id)
            if c.username.lower() == username.lower()
        ]
    state.cache.invalidate()
    return collaborator_json(found[0])


@route(router, "/db/{owner}/{name:path}/collaborators/{username}", "DELETE")
async def remove_collaborator(
    owner: str, name: str, username: str, principal: FullUser, state: State
) -> None:
    async with state.pools.catalog.connection() as conn, conn.transaction():
        record, user_id, current = await _target(conn, principal, owner, name, username)
        if current is None:
            raise BitError("BIT111", f"{username!r} is not a collaborator on this database")
        if user_id != principal.user_id:  # anyone may leave
            _check_change(record, principal, current, None)
        elif current == "OWNER":
            raise BitError("BIT112", "The owner cannot leave their own database; delete it")
        await grants.remove(conn, record.id, user_id)
        await tenancy.apply_rights(state.cluster.access, conn, record.id)
        await state.pools.forget_database(record.physical_name)  # their sessions just ended
    state.cache.invalidate()
