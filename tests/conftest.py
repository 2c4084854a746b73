"""The run-wide real Postgres: started once with our own embedded manager, torn down at exit."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from bitdotio.cluster.bootstrap import Cluster, prepare_catalog, start_postgres
from bitdotio.config import Settings, load


def make_data_dir(prefix: str) -> str:
    """A data directory the Postgres system user can reach when tests run as root.

    pytest's tmp_path lives under a 0700 directory, so use /tmp directly.
    """
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o711)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Iterator[str]:
    path = make_data_dir("bitio-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(data_dir: str) -> Settings:
    return load({"data-dir": data_dir, "pg-fsync": False}, environ={})


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> Iterator[Cluster]:
    cluster = start_postgres(settings, exclusive=True)
    try:
        asyncio.run(prepare_catalog(cluster))
        yield cluster
    finally:
        cluster.close()
