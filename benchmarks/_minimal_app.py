"""The anchor of ``http_query.py``: the least a FastAPI + psycopg ``/query`` endpoint can do.

No auth, no catalog, no per-request transaction settings, no streaming, no byte cap: take a
pooled connection to one fixed database, run the statement, ``fetchall()``, ``json.dumps`` the
same shape ours answers (``query_string``, ``metadata`` of column name -> type name, ``data``
rows). The pool is psycopg's ``AsyncConnectionPool`` with default settings (the idiomatic
``async with pool.connection()``: psycopg's implicit BEGIN, COMMIT on exit) and the same
``max_size`` as our tenant pool. Values psycopg loads as Decimal/datetime are serialised with
``default=str``.

Configured by environment: ``MINIMAL_CONNINFO`` (libpq conninfo of the database) and
``MINIMAL_POOL_SIZE``. Run it with ``uvicorn --app-dir benchmarks _minimal_app:app``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool

pool = AsyncConnectionPool(
    os.environ.get("MINIMAL_CONNINFO", ""),
    min_size=1,
    max_size=int(os.environ.get("MINIMAL_POOL_SIZE", "4")),
    open=False,
)
type_names: dict[int, str] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT oid::int, pg_catalog.format_type(oid, NULL) FROM pg_catalog.pg_type"
        )
        type_names.update(await cur.fetchall())
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/query")
async def query(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    query_string: str = body["query_string"]
    async with pool.connection() as conn:
        cur = await conn.execute(query_string)
        rows = await cur.fetchall()
        description = cur.description or []
    metadata = {col.name: type_names.get(col.type_code, str(col.type_code)) for col in description}
    payload = {"query_string": query_string, "metadata": metadata, "data": rows}
    return Response(json.dumps(payload, default=str), media_type="application/json")
