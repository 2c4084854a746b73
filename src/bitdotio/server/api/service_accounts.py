"""``/v2beta/service-account/``: principals a user creates for programs, each limited to some
of the user's databases with a role on each (contract §2.2 rows 11-14, §8). Listing, reading,
minting keys and revoking them are bit.io's endpoints; creating and deleting are ours (bit.io
had them in its web console). Only a user's own full key may use any of them (403 ``BIT202`` for a
service account's key, ``BIT203`` for a read-only key).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bitdotio.catalog import databases, keys, service_accounts
from bitdotio.catalog.names import parse_full_name
from bitdotio.catalog.rights import ROLES
from bitdotio.catalog.service_accounts import ServiceAccount
from bitdotio.cluster import tenancy
from bitdotio.errors import BitError
from bitdotio.server.api import invalid, route, timestamp
from bitdotio.server.auth import FullUser
from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["service accounts"])
State = Annotated[AppState, Depends(get_state)]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


ScopeRole = Literal["ADMIN", "WRITER", "READER"]


class ScopeEntry(BaseModel):
    name: str  # owner/name
    role: ScopeRole | None = None  # default: the account's role


class CreateServiceAccount(BaseModel):
    name: str
    role: ScopeRole | None = None  # the role on every database that names none
    databases: list[str | ScopeEntry] = Field(min_length=1, max_length=100)

    def scope(self) -> dict[str, str]:
        """owner/name -> role, or a 422 for a database without one."""
        wanted: dict[str, str] = {}
        for entry in self.databases:
            name, role = (entry, None) if isinstance(entry, str) else (entry.name, entry.role)
            role = role or self.role
            if role is None:
                raise invalid("role", f"give a role for {name!r} or a default", "value_error")
            wanted[name] = role
        return wanted


def account_json(account: ServiceAccount) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "name": account.name,
        "date_created": timestamp(account.date_created),
        "role": account.role,
        "databases": [{"id": str(i), "name": n, "role": r} for i, n, r in account.databases],
        "token_count": account.token_count,
        "active_token_count": account.active_token_count,
    }


async def _account(
    conn: psycopg.AsyncConnection, owner_id: uuid.UUID, account_id: str
) -> ServiceAccount:
    try:
        parsed = uuid.UUID(account_id)
    except ValueError:
        raise BitError("BIT204") from None
    account = await service_accounts.get(conn, owner_id, parsed)
    if account is None:
        raise BitError("BIT204")
    return account


@route(router, "/service-account/", "POST", status_code=201)
async def create_service_account(
    body: CreateServiceAccount, principal: FullUser, state: State
) -> JSONResponse:
    if not _NAME.fullmatch(body.name):
        raise invalid(
            "name",
            "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            "value_error",
        )
    wanted = body.scope()
    async with state.pools.catalog.connection() as conn, conn.transaction():
        scope: dict[uuid.UUID, str] = {}
        for name, role in wanted.items():
            full = parse_full_name(name)
            record = None if full is None else await databases.resolve(conn, principal, full)
            if record is None or record.grant is None:
                raise BitError("BIT104", f"Database {name!r} not found among your databases")
            if ROLES.index(record.grant) < ROLES.index(role):
                raise BitError(
                    "BIT105",
                    f"You are {record.grant} on {name}: a service account cannot be given {role}",
                )
            scope[record.id] = role
        try:
            account_id = await tenancy.create_service_account(
                state.cluster.access,
                conn,
                owner_id=principal.user_id,
                name=body.name,
                scope=scope,
            )
        except psycopg.errors.UniqueViolation:
            raise BitError(
                "BIT205", f"You already have a service account named {body.name!r}"
            ) from None
        account = await service_accounts.get(conn, principal.user_id, account_id)
    assert account is not None
    state.cache.invalidate()
    return JSONResponse(account_json(account), status_code=201)


@route(router, "/service-account/", "GET")
async def list_service_accounts(principal: FullUser, state: State) -> dict[str, Any]:
    async with state.pools.catalog.connection() as conn:
        found = await service_accounts.list_for(conn, principal.user_id)
    return {"service_accounts": [account_json(a) for a in found]}


@route(router, "/service-account/{account_id}", "GET")
async def get_service_account(account_id: str, principal: FullUser, state: State) -> dict[str, Any]:
    async with state.pools.catalog.connection() as conn:
        return account_json(await _account(conn, principal.user_id, account_id))


@route(router, "/service-account/{account_id}", "DELETE")
async def delete_service_account(
    account_id: str, principal: FullUser, state: State
) -> JSONResponse:
    async with state.pools.catalog.connection() as conn, conn.transaction():
        account = await _account(conn, principal.user_id, account_id)
        await tenancy.delete_service_account(state.cluster.access, conn, account)
    state.cache.invalidate()
    return JSONResponse(None)


@route(router, "/service-account/{account_id}/api-key/", "POST", status_code=201)
async def create_service_account_key(
    account_id: str, principal: FullUser, state: State
) -> JSONResponse:
    async with state.pools.catalog.connection() as conn:
        account = await _account(conn, principal.user_id, account_id)
        key = await keys.mint(conn, principal.user_id, service_account_id=account.id)
    return JSONResponse({"username": account.name, "api_key": key}, status_code=201)


@route(router, "/service-account/{account_id}/api-key/", "DELETE")
async def revoke_service_account_keys(
    account_id: str, principal: FullUser, state: State
) -> JSONResponse:
    async with state.pools.catalog.connection() as conn:
        account = await _account(conn, principal.user_id, account_id)
        await keys.revoke_service_account(conn, account.id)
    state.cache.invalidate()
    return JSONResponse(None)
