"""Real clients against the Postgres endpoint of a real ``bit serve`` (contract §4, §5.5).

Two servers: ``server`` with the default settings, and ``short_server`` with short proxy
limits (connection limit, idle timeout, maximum lifetime) for the lifecycle tests. The failed
logins of test_failures.py go to ``short_server`` too: the endpoint refuses an address after 20
failed logins a minute, and ``server`` must stay usable for everything else.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_data_dir
from tests.drivers.support import Tenant, endpoint_connections, unique_name, wait_until

# The venv with the original bitdotio 2.2.1 (installed into .cache on first use).
from tests.e2e.conftest import (
    Server,
    free_port,
    original_python,  # noqa: F401
)

HERE = Path(__file__).parent

# Settings of the second server; all three together keep the suite to one extra server.
SHORT_SETTINGS = {
    "BITIO_PROXY_CONNECTION_LIMIT": "2",
    "BITIO_PROXY_IDLE_TIMEOUT_S": "1",
    "BITIO_PROXY_MAX_LIFETIME_S": "2",
}

_started: list[Server] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this directory runs ``bit serve``: mark it ``e2e``."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def _serve(env: dict[str, str]) -> Iterator[Server]:
    srv = Server(make_data_dir("bitio-drivers-"), free_port(), free_port(), env=env)
    try:
        srv.start()
        _started.append(srv)
        yield srv
    finally:
        if srv in _started:
            _started.remove(srv)
        if srv.process and srv.process.poll() is None:
            srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    # Every test connects from 127.0.0.1, and several fail logins on purpose: the throttle is
    # tested on its own address in test_hardening.py.
    yield from _serve({"BITIO_PROXY_FAILED_LOGINS_PER_MINUTE": "100000"})


@pytest.fixture(scope="session")
def short_server() -> Iterator[Server]:
    yield from _serve(SHORT_SETTINGS)


def _tenant(server: Server) -> Tenant:
    name = unique_name("drv")
    return Tenant(server, name, server.create_user(name))


@pytest.fixture(scope="session")
def tenant(server: Server) -> Tenant:
    """A user of ``server`` with its own API key."""
    return _tenant(server)


@pytest.fixture(scope="session")
def short_tenant(short_server: Server) -> Tenant:
    return _tenant(short_server)


@pytest.fixture(scope="module")
def database(tenant: Tenant) -> str:
    """A private database of ``tenant``, created through the HTTP API, per test module."""
    return tenant.create_database()


@pytest.fixture(scope="module")
def dsn(tenant: Tenant, database: str) -> str:
    """``host=127.0.0.1 port=<pg_port> user=api_user password=<key> dbname=<owner>/<db> ...``"""
    return tenant.conninfo(database)


@pytest.fixture(scope="module", autouse=True)
def _no_endpoint_leaks() -> Iterator[None]:
    """After a module's tests closed their connections, each server's count drops to 0."""
    yield
    for srv in list(_started):
        if srv.process is None or srv.process.poll() is not None:
            continue
        drained, count = wait_until(lambda srv=srv: endpoint_connections(srv), lambda n: n == 0)
        assert drained, f"{count} endpoint connections still open on {srv.base_url}"
