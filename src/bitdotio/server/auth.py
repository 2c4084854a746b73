"""Bearer API key -> Principal, through the catalog's hashed keys (contract §2.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bitdotio.catalog import keys
from bitdotio.catalog.keys import Principal
from bitdotio.errors import BitError
from bitdotio.server.state import AppState, get_state

__all__ = [
    "CurrentPrincipal",
    "FullUser",
    "bearer_key",
    "current_principal",
    "full_user",
]


def bearer_key(request: Request) -> str:
    """The key from ``Authorization: Bearer <key>``; 401 when missing or malformed."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not keys.is_well_formed(key):
        raise BitError("BIT200")
    return key


async def current_principal(
    request: Request, state: Annotated[AppState, Depends(get_state)]
) -> Principal:
    principal = await state.cache.principal(state.pools.catalog, bearer_key(request))
    if principal is None:
        raise BitError("BIT200")
    state.key_usage.seen(principal.key_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def full_user(principal: CurrentPrincipal) -> Principal:
    """A user's own key with all the user's rights: what creating databases, managing keys,
    collaborators and service accounts need (contract §8: user-only operations)."""
    if principal.service_account_id is not None:
        raise BitError("BIT202")
    if principal.read_only:
        raise BitError("BIT203")
    return principal


FullUser = Annotated[Principal, Depends(full_user)]
