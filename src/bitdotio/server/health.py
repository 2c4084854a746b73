"""``GET /healthz``: 200 only when everything this process serves is ready."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: Annotated[AppState, Depends(get_state)]) -> JSONResponse:
    checks: dict[str, Any] = {"api": "ok" if state.ready else "starting"}
    try:
        async with state.pools.catalog.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        checks["postgres"] = "ok"
    except Exception:  # any failure means "not ready"; the detail is in the server log
        checks["postgres"] = "unavailable"
    if state.endpoint is not None:
        checks["postgres_endpoint"] = "ok" if state.endpoint.serving else "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "postgres_version": state.cluster.server_version,
        "warnings": [
            f"Postgres {state.cluster.server_version} is affected by {a.cve}: {a.summary}"
            for a in state.cluster.advisories
        ],
    }
    if state.endpoint is not None:
        body["endpoint"] = state.endpoint.stats()
    return JSONResponse(body, status_code=200 if healthy else 503)
