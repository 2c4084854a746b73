"""The file store: uploads waiting for their import job, and (later) export results.

One interface, one implementation per backend. ``LocalFileStore`` keeps files under a directory
(``storage-dir``, default ``<data-dir>/files``); an S3-compatible store is one more class with
the same methods. Keys are ``<area>/<uuid>``-style paths made by the platform, never by users.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["FileStore", "LocalFileStore", "new_key"]

_KEY = re.compile(r"[a-z]+/[0-9a-f-]{36}(\.[a-z0-9]+)?")


def new_key(area: str) -> str:
    return f"{area}/{uuid.uuid4()}"


class FileStore(Protocol):
    def writer(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A file to write ``key`` into; it appears only if the block ends without error."""
        ...

    def local_path(self, key: str) -> Path:
        """A local path to read ``key`` from."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...


class LocalFileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a file-store key: {key!r}")
        return self.root / key

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
            partial.rename(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
