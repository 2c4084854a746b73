"""``/v2beta/api-key/``: mint a key for the caller (optionally expiring), list the caller's
keys, revoke one key or all of them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from bitdotio.catalog import keys
from bitdotio.catalog.keys import KeyInfo, Principal
from bitdotio.cluster import tenancy
from bitdotio.errors import BitError
from bitdotio.server.api import route, timestamp
from bitdotio.server.auth import CurrentPrincipal
from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["keys"])
State = Annotated[AppState, Depends(get_state)]


class CreateKey(BaseModel):
    """Optional (2.2.1 sends no body): when the new key stops working, at most one of these."""

    expires_in_s: int | None = Field(default=None, gt=0)
    expires_at: datetime | None = None
    read_only: bool = False  # the key may read, never write (docs/reference/access.md)

    @model_validator(mode="after")
    def _one_expiry(self) -> CreateKey:
        if self.expires_in_s is not None and self.expires_at is not None:
            raise ValueError("give expires_in_s or expires_at, not both")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a time zone (for example ...Z)")
        return self

    def expiry(self) -> datetime | None:
        if self.expires_in_s is not None:
            return datetime.now(UTC) + timedelta(seconds=self.expires_in_s)
        return self.expires_at


@route(router, "/api-key/", "POST", status_code=201)
async def create_key(
    principal: CurrentPrincipal, state: State, body: CreateKey | None = None
) -> JSONResponse:
    """A new key with the same permissions as the caller (contract §2.2 row 15); the body
    may give it an expiry, which cannot be later than the caller's own key's, and make it
    read-only (a read-only key only makes read-only keys)."""
    _not_a_service_account(principal)
    read_only = principal.read_only or bool(body and body.read_only)
    expires_at = body.expiry() if body else None
    if principal.expires_at is not None and (
        expires_at is None or expires_at > principal.expires_at
    ):
        expires_at = principal.expires_at  # a key never outlives the key that made it
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BitError("BIT109", "expires_at is in the past")
    async with state.pools.catalog.connection() as conn, conn.transaction():
        if read_only:
            await tenancy.ensure_read_only_role(state.cluster.access, conn, principal.user_id)
        key = await keys.mint(conn, principal.user_id, expires_at=expires_at, read_only=read_only)
    state.cache.invalidate()
    return JSONResponse({"username": principal.username, "api_key": key}, status_code=201)


def _not_a_service_account(principal: Principal) -> None:
    if principal.service_account_id is not None:
        raise BitError("BIT202", "Service-account keys cannot manage API keys")


@route(router, "/api-key/", "GET")
async def list_keys(principal: CurrentPrincipal, state: State) -> dict[str, Any]:
    """The caller's working keys: id, prefix, dates, and which one made this call; never a
    key itself."""
    _not_a_service_account(principal)
    async with state.pools.catalog.connection() as conn:
        found = await keys.list_for(conn, principal.user_id)
    return {"api_keys": [_key_json(k, principal.key_id) for k in found]}


def _key_json(key: KeyInfo, current: uuid.UUID) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "prefix": key.prefix,
        "date_created": timestamp(key.date_created, "seconds"),
        "expires_at": timestamp(key.expires_at, "seconds"),
        "last_used": timestamp(key.last_used_at, "seconds"),
        "current": key.id == current,
        "read_only": key.read_only,
    }


@route(router, "/api-key/", "DELETE")
async def revoke_keys(
    principal: CurrentPrincipal,
    state: State,
    api_key: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    """Revoke ``api_key``, or without it every key of the caller, this one included.

    Answers 200 with a JSON ``null`` body (contract §2.2 row 16). A read-only key may only
    revoke itself.
    """
    _not_a_service_account(principal)
    if principal.read_only and not (
        api_key and (await state.cache.principal(state.pools.catalog, api_key)) == principal
    ):
        raise BitError("BIT203", "A read-only key can revoke only itself")
    async with state.pools.catalog.connection() as conn:
        if api_key:
            if not await keys.revoke(conn, principal.user_id, api_key):
                raise BitError("BIT201")
        else:
            await keys.revoke_all(conn, principal.user_id)
    state.cache.invalidate()
    return JSONResponse(None)
