"""Readers that parse a hostile file in a subprocess capped by RLIMIT_AS and RLIMIT_CPU.

The SQLite and workbook readers run ``python -m MODULE FILE OUT_DIR LIMITS_JSON``, where
LIMITS_JSON holds the reader's own settings plus ``memory_bytes`` and ``cpu_s``
(security.md §4.5). The child writes everything into OUT_DIR, a ``Scratch`` directory: its
payload files, then ``result.json``, or ``error.json`` (``{"error_type", "message",
"details"}``) and exit status 3 for an ``ImportFailure``. Its stderr goes to ``stderr.log``
there too, so that nothing it prints is held in this process's memory.

Parent side: ``Scratch``, ``run`` (start the child and turn how it ended into a result or an
``ImportFailure``) and ``stream`` (a payload file's chunks). Child side: ``before_threads``
(before a library that starts threads is imported) and ``main`` (``cap_resources``, then the
reader, then ``result.json`` or ``error.json``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bitdotio.imports.source import ImportFailure

__all__ = ["FAILED_EXIT", "Scratch", "before_threads", "cap_resources", "main", "run", "stream"]

FAILED_EXIT = 3
_RESULT = "result.json"
_ERROR = "error.json"
_STDERR = "stderr.log"
_STDERR_TAIL = 16 * 1024
_M_ARENA_MAX = -8  # glibc's mallopt() parameter
# What a child that hit RLIMIT_AS prints on its way out: Python's MemoryError, Rust's
# allocation failure, an mmap refused (ENOMEM), a thread whose stack could not be mapped (EAGAIN).
_OUT_OF_MEMORY = (
    "MemoryError",
    "memory allocation of",
    "out of memory",
    "Cannot allocate memory",
    "Resource temporarily unavailable",
)

log = logging.getLogger("bitdotio.imports")


class Scratch:
    """A temporary directory removed when nothing that reads it (a closure) holds it any more."""

    def __init__(self, parent: str | None, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self) -> None:
        self._finalizer()


def run(
    module: str,
    path: Path,
    scratch: Scratch,
    settings: dict[str, Any],
    *,
    memory_bytes: int,
    cpu_s: float,
    too_large: ImportFailure,
    unreadable: ImportFailure,
) -> dict[str, Any]:
    """Run the child reader ``module`` on ``path`` and return its ``result.json``.

    A limit hit (killed by a signal, out of memory, or still running after twice its CPU
    time plus 10 s of wall clock) raises ``too_large``; any other unexpected exit
    ``unreadable``; an ``ImportFailure`` of the child's own is raised as it was.
    """
    out = scratch.path
    limits = {**settings, "memory_bytes": memory_bytes, "cpu_s": cpu_s}
    command = [sys.executable, "-m", module, str(path.resolve()), str(out), json.dumps(limits)]
    with (out / _STDERR).open("wb") as stderr:
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                timeout=2 * cpu_s + 10,  # wall clock; the child caps its own CPU time
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise too_large from None
    if done.returncode == FAILED_EXIT:
        error = json.loads((out / _ERROR).read_text())
        raise ImportFailure(error["error_type"], error["message"], **error["details"])
    if done.returncode != 0:
        tail = _stderr_tail(out / _STDERR)
        log.warning("%s exited with status %s: %s", module, done.returncode, tail[-2000:])
        # A signal is SIGXCPU or SIGKILL past the CPU cap, or an abort on a failed allocation.
        if done.returncode < 0 or any(sign in tail for sign in _OUT_OF_MEMORY):
            raise too_large
        raise unreadable
    result: dict[str, Any] = json.loads((out / _RESULT).read_text())
    return result


def _stderr_tail(path: Path) -> str:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - _STDERR_TAIL))
        return file.read().decode(errors="replace")


def stream(file: Path, chunks: list[int], scratch: Scratch) -> Iterator[bytes]:
    """A payload file's chunks as the child wrote them; ``scratch`` is held so the file stays."""
    assert file.parent == scratch.path
    with file.open("rb") as payload:
        for size in chunks:
            yield payload.read(size)


def before_threads(environment: dict[str, str]) -> None:
    """Call before importing a library that starts threads and sizes them from ``environment``.

    Also keeps every thread on one malloc arena: glibc reserves 64 MiB of address space for
    each arena it adds, which RLIMIT_AS counts though the memory is never used.
    """
    for name, value in environment.items():
        os.putenv(name, value)  # for the library's own getenv(); os.environ stays untouched
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)


def cap_resources(memory_bytes: int, cpu_s: float) -> None:
    """RLIMIT_AS and RLIMIT_CPU for this process, and no core dump when it is killed."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        memory_bytes = min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = max(1, math.ceil(cpu_s))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        cpu = min(cpu, hard - 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at cpu, SIGKILL after


def main(
    argv: list[str],
    read: Callable[[Path, Path, dict[str, Any]], dict[str, Any]],
    failure_for: Callable[[Exception], ImportFailure | None],
) -> int:
    """The child's side of ``run``: cap this process, then ``read(file, out_dir, limits)``.

    ``failure_for`` turns an exception the reader raised into the ``ImportFailure`` to report,
    or None to let it escape (a traceback on stderr and exit status 1).
    """
    path, out_dir, limits_json = argv
    limits = json.loads(limits_json)
    cap_resources(limits["memory_bytes"], limits["cpu_s"])
    out = Path(out_dir)
    try:
        result = read(Path(path), out, limits)
    except Exception as exc:
        failure = failure_for(exc)
        if failure is None:
            raise
        error = {
            "error_type": failure.error_type,
            "message": failure.message,
            "details": failure.details,
        }
        (out / _ERROR).write_text(json.dumps(error))
        return FAILED_EXIT
    (out / _RESULT).write_text(json.dumps(result))
    return 0
