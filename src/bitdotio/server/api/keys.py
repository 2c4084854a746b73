"""``/v2beta/api-key/``: mint a key for the caller, revoke one key or all of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from bitdotio.catalog import keys
from bitdotio.errors import BitError
from bitdotio.server.api import route
from bitdotio.server.auth import CurrentPrincipal
from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["keys"])
State = Annotated[AppState, Depends(get_state)]


@route(router, "/api-key/", "POST", status_code=201)
async def create_key(principal: CurrentPrincipal, state: State) -> JSONResponse:
    """A new key with the same permissions as the caller (contract §2.2 row 15)."""
    async with state.pools.catalog.connection() as conn:
        key = await keys.mint(conn, principal.user_id)
    return JSONResponse({"username": principal.username, "api_key": key}, status_code=201)


@route(router, "/api-key/", "DELETE")
async def revoke_keys(
    principal: CurrentPrincipal,
    state: State,
    api_key: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    """Revoke ``api_key``, or without it every key of the caller, this one included.

    Answers 200 with a JSON ``null`` body (contract §2.2 row 16).
    """
    async with state.pools.catalog.connection() as conn:
        if api_key:
            if not await keys.revoke(conn, principal.user_id, api_key):
                raise BitError("BIT201")
        else:
            await keys.revoke_all(conn, principal.user_id)
    state.cache.invalidate()
    return JSONResponse(None)
