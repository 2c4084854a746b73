"""``create_app``: the FastAPI app under ``/v2beta``, its lifespan, middleware and handlers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from bitdotio._version import __version__
from bitdotio.cluster.bootstrap import Cluster
from bitdotio.cluster.pools import Pools
from bitdotio.config import Settings
from bitdotio.jobs.queue import ensure_schema, make_app
from bitdotio.jobs.runtime import Runtime
from bitdotio.jobs.worker import run_worker, worker_name
from bitdotio.proxy.endpoint import Endpoint
from bitdotio.server import health
from bitdotio.server.api import (
    collaborators,
    databases,
    exports,
    imports,
    keys,
    query,
    service_accounts,
)
from bitdotio.server.download_links import LinkSigner, load_signing_key
from bitdotio.server.errors import install_handlers
from bitdotio.server.middleware import RequestBodyMiddleware
from bitdotio.server.query.render import configure_loaders
from bitdotio.server.state import AppState

__all__ = ["create_app"]


async def _builtin_type_names(pools: Pools) -> dict[int, str]:
    """OID -> ``format_type`` name (``integer``, ``text``...) for the builtin types."""
    async with pools.catalog.connection() as conn:
        cur = await conn.execute(
            "SELECT oid::int, pg_catalog.format_type(oid, NULL) FROM pg_catalog.pg_type"
            " WHERE oid < 16384"
        )
        return dict(await cur.fetchall())


def _declare_bearer_auth(app: FastAPI) -> None:
    """The OpenAPI document declares an HTTP bearer scheme on every /v2beta operation
    (contract §2.1); auth itself is ``server/auth.py``, outside FastAPI's security classes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["HTTPBearer"] = {"type": "http", "scheme": "bearer"}
            for path, operations in schema["paths"].items():
                if path.startswith("/v2beta"):
                    for operation in operations.values():
                        operation["security"] = [{"HTTPBearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    cluster: Cluster,
    *,
    endpoint: tuple[socket.socket, ssl.SSLContext] | None = None,
) -> FastAPI:
    """The API; with ``endpoint`` (a listening socket and its TLS context) the lifespan also
    serves the Postgres endpoint on the same loop, sharing the catalog pool and lookup cache."""
    pools = Pools(
        cluster.access,
        catalog_size=settings.catalog_pool_size,
        tenant_size=settings.tenant_pool_size,
        configure_tenant=configure_loaders,
    )
    runtime = Runtime.create(settings, cluster.access, pools.catalog)
    queue = make_app(cluster.access)
    state = AppState(settings=settings, cluster=cluster, pools=pools, runtime=runtime, queue=queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pools.open()
        await ensure_schema(cluster.access)
        await queue.open_async()
        listener = asyncio.create_task(state.cache.listen(cluster.access.catalog()))
        usage = asyncio.create_task(state.key_usage.run(pools.catalog))
        worker: asyncio.Task[None] | None = None
        try:
            if settings.components == "all":
                worker = asyncio.create_task(run_worker(queue, runtime, name=worker_name()))
            state.type_names = await _builtin_type_names(pools)
            async with pools.catalog.connection() as conn:
                state.links = LinkSigner(
                    await load_signing_key(conn, settings.download_signing_key)
                )
            if endpoint is not None:
                sock, tls_context = endpoint
                state.endpoint = Endpoint(
                    settings,
                    cluster.access,
                    state.cache,
                    pools.catalog,
                    tls_context,
                    state.key_usage,
                )
                await state.endpoint.start(sock)
            state.ready = True
            yield
        finally:
            state.ready = False
            if state.endpoint is not None:
                await state.endpoint.close()
            if worker is not None:  # lets running jobs finish, up to proxy-shutdown-grace-s
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await queue.close_async()
            for task in (usage, listener):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pools.close()

    app = FastAPI(
        title="bit.io Developer API (self-hosted)",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.bitio = state
    # bit.io's example web app called /v2beta/query from a browser (contract §2.1).
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
    )
    app.add_middleware(
        RequestBodyMiddleware,
        max_body_bytes=settings.http_max_body_bytes,
        max_form_bytes=settings.import_max_upload_bytes + 64 * 1024,  # the form's own fields
    )
    install_handlers(app)
    v2beta = APIRouter(prefix="/v2beta")
    # the hot path first: routes match in order
    for module in (query, imports, exports, collaborators, databases, keys, service_accounts):
        v2beta.include_router(module.router)
    app.include_router(v2beta)
    app.include_router(health.router)
    _declare_bearer_auth(app)
    return app
