"""What the running app holds: settings, the cluster, the pools, readiness."""

from __future__ import annotations

from dataclasses import dataclass, field

import procrastinate
from fastapi import Request

from bitdotio.catalog.cache import LookupCache
from bitdotio.catalog.key_usage import KeyUsage
from bitdotio.cluster.bootstrap import Cluster
from bitdotio.cluster.pools import Pools
from bitdotio.config import Settings
from bitdotio.jobs.runtime import Runtime
from bitdotio.proxy.endpoint import Endpoint
from bitdotio.server.download_links import LinkSigner

__all__ = ["AppState", "get_state"]


@dataclass
class AppState:
    settings: Settings
    cluster: Cluster
    pools: Pools
    runtime: Runtime  # what jobs need; the API uses its file store
    queue: procrastinate.App  # the job queue, to defer jobs
    cache: LookupCache = field(default_factory=LookupCache)
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    type_names: dict[int, str] = field(default_factory=dict)  # builtin OID -> format_type
    ready: bool = False
    endpoint: Endpoint | None = None  # the Postgres endpoint, when this process serves it
    links: LinkSigner | None = None  # signs export download links; set when the app starts

    def base_url(self, request: Request) -> str:
        """Where clients reach this API: ``public-url``, else what the request was sent to."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


async def get_state(request: Request) -> AppState:
    # async: FastAPI runs a plain-def dependency in a worker thread on every request.
    state: AppState = request.app.state.bitio
    return state
