"""What a worker's tasks need: settings, the cluster, the catalog pool and the file store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from bitdotio.cluster.access import ClusterAccess
from bitdotio.config import Settings
from bitdotio.storage import FileStore, LocalFileStore

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    access: ClusterAccess
    catalog: AsyncConnectionPool
    store: FileStore
    scratch_root: Path  # local disk for downloads and unpacked files; emptied after each job

    @classmethod
    def create(
        cls, settings: Settings, access: ClusterAccess, catalog: AsyncConnectionPool
    ) -> Runtime:
        root = Path(settings.storage_dir or Path(settings.data_dir) / "files")
        return cls(settings, access, catalog, LocalFileStore(root), root / "scratch")

    def scratch(self, job_id: uuid.UUID) -> Path:
        path = self.scratch_root / str(job_id)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
