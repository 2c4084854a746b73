"""``GET /healthz``: 200 only when everything this process serves is ready."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from bitdotio.server.state import AppState, get_state

__all__ = ["router"]

router = APIRouter(tags=["health"])

# Live workers (a heartbeat within worker-stalled-after-s), and the queue: procrastinate's
# tables, in the catalog database.
_JOBS = """
SELECT (SELECT count(*) FROM procrastinate_workers
        WHERE last_heartbeat > now() - make_interval(secs => %s))::int,
       count(*) FILTER (WHERE status = 'todo')::int,
       count(*) FILTER (WHERE status = 'doing')::int
FROM procrastinate_jobs WHERE status IN ('todo', 'doing')
"""


@router.get("/healthz")
async def healthz(state: Annotated[AppState, Depends(get_state)]) -> JSONResponse:
    checks: dict[str, Any] = {"api": "ok" if state.ready else "starting"}
    jobs: dict[str, int] | None = None
    try:
        async with state.pools.catalog.connection(timeout=2) as conn:
            cur = await conn.execute(_JOBS, [state.settings.worker_stalled_after_s])
            row = await cur.fetchone()
        checks["postgres"] = "ok"
        if row is not None:
            jobs = {"workers": row[0], "queued": row[1], "running": row[2]}
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
    if jobs is not None:
        body["jobs"] = jobs
    return JSONResponse(body, status_code=200 if healthy else 503)
