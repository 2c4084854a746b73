"""``bit serve``: the embedded Postgres (or ``BITIO_DATABASE_URL``), the catalog, the HTTP API
and the Postgres endpoint, on one event loop.

Owns the data directory while it runs (a lock file), prints the admin credentials on the
first start, and stops Postgres with ``pg_ctl stop -m fast`` on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from types import FrameType

import uvicorn

from bitdotio.catalog import users
from bitdotio.cluster import tenancy
from bitdotio.cluster.bootstrap import Cluster, prepare_catalog, start_postgres
from bitdotio.cluster.pools import Pools
from bitdotio.config import Settings
from bitdotio.errors import BitError
from bitdotio.jobs.queue import ensure_schema, make_app
from bitdotio.jobs.runtime import Runtime
from bitdotio.jobs.worker import run_worker, worker_name
from bitdotio.proxy.endpoint import listen
from bitdotio.proxy.tls import server_context
from bitdotio.server.app import create_app

__all__ = ["run"]

log = logging.getLogger("bitdotio.server")

ADMIN_USERNAME = "admin"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # procrastinate logs every job at INFO, the 10-second sweep included: ours say what matters.
    if logging.getLevelName(level.upper()) != logging.DEBUG:
        logging.getLogger("procrastinate").setLevel(logging.WARNING)


async def _first_start_admin(cluster: Cluster) -> None:
    """On an empty catalog, create the admin user and print its key: the only time it shows."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        cluster.access.catalog(), autocommit=True
    ) as conn:
        if await users.count(conn):
            return
        creds = await tenancy.create_user(cluster.access, conn, ADMIN_USERNAME)
    # stdout, never the log: the key is a secret (DEVELOPERS.md).
    print(f"Admin user: {creds.username}")
    print(f"Admin API key (shown once, store it now): {creds.api_key}", flush=True)


async def _work(settings: Settings, cluster: Cluster) -> None:
    """``components = worker``: process jobs until SIGINT/SIGTERM, then stop gracefully."""
    await prepare_catalog(cluster)
    pools = Pools(cluster.access, catalog_size=2, tenant_size=1)
    await pools.open()
    queue = make_app(cluster.access)
    try:
        await ensure_schema(cluster.access)
        await queue.open_async()
        runtime = Runtime.create(settings, cluster.access, pools.catalog)
        worker = asyncio.create_task(run_worker(queue, runtime, name=worker_name()))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.cancel)
        print(f"Worker {worker_name()}: processing jobs", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    finally:
        await queue.close_async()
        await pools.close()


async def _serve(settings: Settings, cluster: Cluster) -> None:
    if settings.components == "worker":
        await _work(settings, cluster)
        return
    endpoint = (listen(settings.host, settings.pg_port), server_context(settings))
    await prepare_catalog(cluster)
    await _first_start_admin(cluster)
    app = create_app(settings, cluster, endpoint=endpoint)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.http_port,
        log_level=settings.log_level,
        access_log=False,
        loop="none",
        lifespan="on",
    )
    base = settings.public_url or f"http://{settings.host}:{settings.http_port}"
    print(f"HTTP API: {base}/v2beta", flush=True)
    print(
        f"Postgres endpoint: postgresql://{settings.host}:{settings.pg_port}/<owner>/<database>"
        "?sslmode=require (password: an API key)",
        flush=True,
    )
    await uvicorn.Server(config).serve()


def _run_loop(settings: Settings, cluster: Cluster) -> None:
    try:
        import uvloop
    except ImportError:  # Windows has no uvloop
        asyncio.run(_serve(settings, cluster))
    else:
        uvloop.run(_serve(settings, cluster))


class _Shutdown(Exception):
    """SIGINT or SIGTERM arrived: unwind so Postgres is stopped on the way out."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Shutdown(signal.Signals(signum).name)


def run(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM (exit 0); the exit code for ``bit serve``.

    uvicorn shuts down gracefully on those signals and then re-raises them; our handler turns
    that into an exception, so the ``finally`` below always stops Postgres.
    """
    _configure_logging(settings.log_level)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    cluster: Cluster | None = None
    try:
        # A worker beside a running bit serve borrows its embedded Postgres.
        cluster = start_postgres(settings, exclusive=settings.components != "worker")
        _run_loop(settings, cluster)
    except _Shutdown:
        pass
    except BitError as exc:
        print(f"Error: {exc.public_message()}", file=sys.stderr)
        return 3
    finally:
        try:
            if cluster is not None:
                cluster.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0
