"""Running a worker: inside ``bit serve`` (a task on its event loop) or alone
(``bit serve --only worker``, on any machine that reaches the catalog and the file store).

Blocking work (downloads, parsing, COPY) runs in threads, so the loop keeps serving the API and
the Postgres endpoint while imports run.
"""

from __future__ import annotations

import os
import socket

import procrastinate

from bitdotio import config
from bitdotio.jobs.queue import QUEUES
from bitdotio.jobs.runtime import Runtime

__all__ = ["run_worker", "worker_name"]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_worker(app: procrastinate.App, runtime: Runtime, *, name: str) -> None:
    """Process jobs until cancelled."""
    # polars buffers about 430 MB reading a 1 GB CSV with its defaults, 180 MB with these.
    config.default_env({"POLARS_CSV_CHUNK_SIZE": "2097152", "POLARS_CSV_CHUNK_PREFETCH_LIMIT": "2"})
    settings = runtime.settings
    await app.run_worker_async(
        name=name,
        queues=list(QUEUES),
        concurrency=settings.worker_concurrency,
        install_signal_handlers=False,
        update_heartbeat_interval=settings.worker_heartbeat_s,
        stalled_worker_timeout=settings.worker_stalled_after_s,
        additional_context={"runtime": runtime},
        delete_jobs="successful",
        shutdown_graceful_timeout=settings.proxy_shutdown_grace_s,
    )
