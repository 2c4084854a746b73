"""In-process API tests: FastAPI's TestClient over the run-wide cluster."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient

from bitdotio.cluster import tenancy
from bitdotio.cluster.bootstrap import Cluster
from bitdotio.config import Settings
from bitdotio.server.app import create_app

_counter = itertools.count()


@dataclass(frozen=True)
class User:
    username: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def create_user(cluster: Cluster, username: str) -> User:
    async def _create() -> User:
        async with await psycopg.AsyncConnection.connect(
            cluster.access.catalog(), autocommit=True
        ) as conn:
            creds = await tenancy.create_user(cluster.access, conn, username)
        return User(creds.username, creds.api_key)

    return asyncio.run(_create())


@pytest.fixture(scope="session")
def client(settings: Settings, cluster: Cluster) -> Iterator[TestClient]:
    app = create_app(
        settings.replace(
            query_timeout_s=2.0,
            query_max_bytes=1_000_000,
            http_max_body_bytes=2_000_000,
            import_max_upload_bytes=3_000_000,
            import_allow_private_urls=True,  # the tests' file server is on 127.0.0.1
            worker_heartbeat_s=0.5,
            worker_stalled_after_s=2.0,
            export_timeout_s=3.0,
        ),
        cluster,
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(cluster: Cluster) -> Callable[[], User]:
    def _make() -> User:
        return create_user(cluster, f"user{next(_counter)}-{id(cluster) % 10000}")

    return _make


@pytest.fixture
def alice(make_user: Callable[[], User]) -> User:
    return make_user()


@pytest.fixture
def bob(make_user: Callable[[], User]) -> User:
    return make_user()


@pytest.fixture
def db_name() -> str:
    return f"db{next(_counter)}"
