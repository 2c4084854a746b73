"""``POST /v2beta/query``: one SQL statement, one transaction (contract §2.3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from bitdotio.server.api import route
from bitdotio.server.auth import CurrentPrincipal
from bitdotio.server.query.execute import execute
from bitdotio.server.query.parse import QueryBody, parse
from bitdotio.server.query.plan import plan
from bitdotio.server.query.render import Renderer
from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["query"])


@route(router, "/query", "POST", response_class=Response)
async def run_query(
    body: QueryBody,
    principal: CurrentPrincipal,
    state: Annotated[AppState, Depends(get_state)],
    data_format: Annotated[str | None, Query()] = None,
) -> Response:
    request = parse(body, data_format)
    query_plan = await plan(state, principal, request)
    renderer = Renderer(request.data_format, query_plan.max_bytes)
    type_names = await execute(
        state.pools, query_plan, request.query_string, renderer, state.type_names
    )
    return Response(renderer.body(request.query_string, type_names), media_type="application/json")
