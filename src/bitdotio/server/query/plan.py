"""Stage 2: which database, as which role, under which limits."""

from __future__ import annotations

from dataclasses import dataclass

from bitdotio.catalog.keys import Principal
from bitdotio.errors import BitError
from bitdotio.server.query.parse import QueryRequest
from bitdotio.server.state import AppState

__all__ = ["QueryPlan", "plan"]


@dataclass(frozen=True)
class QueryPlan:
    physical_name: str
    role_name: str  # logs in as this LOGIN role
    group: str  # and acts as this group of the database (catalog.rights)
    timeout_ms: int
    max_bytes: int


async def plan(state: AppState, principal: Principal, request: QueryRequest) -> QueryPlan:
    record = await state.cache.database(state.pools.catalog, principal, request.database)
    if record is None:
        raise BitError("BIT104")
    return QueryPlan(
        physical_name=record.physical_name,
        role_name=principal.role_name,
        group=record.group,
        timeout_ms=int(state.settings.query_timeout_s * 1000),
        max_bytes=state.settings.query_max_bytes,
    )
