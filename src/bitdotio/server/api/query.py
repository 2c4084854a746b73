"""``POST /v2beta/query``: one SQL statement, one transaction (contract §2.3).

The hot path reads its request by hand instead of through FastAPI parameters: dependency and
body solving cost about a fifth of its throughput (benchmarks/http_query.py). The OpenAPI
document still describes the body and the ``data_format`` parameter.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bitdotio.server.api import route
from bitdotio.server.auth import current_principal
from bitdotio.server.query.execute import execute
from bitdotio.server.query.parse import QueryBody, parse, read_body
from bitdotio.server.query.plan import plan
from bitdotio.server.query.render import Renderer
from bitdotio.server.state import get_state

__all__ = ["router"]

router = APIRouter(tags=["query"])

_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": QueryBody.model_json_schema()}},
    },
    "parameters": [
        {
            "name": "data_format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["rows", "objects"], "default": "rows"},
        }
    ],
}


@route(router, "/query", "POST", response_class=Response, openapi_extra=_OPENAPI)
async def run_query(http_request: Request) -> Response:
    """Run one SQL statement; ``data_format=objects`` gives one JSON object per row."""
    state = await get_state(http_request)
    principal = await current_principal(http_request, state)
    request = parse(await read_body(http_request), http_request.query_params.get("data_format"))
    query_plan = await plan(state, principal, request)
    renderer = Renderer(request.data_format, query_plan.max_bytes)
    type_names = await execute(
        state.pools, query_plan, request.query_string, renderer, state.type_names
    )
    return Response(renderer.body(request.query_string, type_names), media_type="application/json")
