"""``COPY (...) TO STDOUT`` straight from libpq into a file, a megabyte at a time.

Drives the connection's ``pgconn`` directly (blocking libpq calls, in the export's thread):
psycopg's per-row generator costs about a third more CPU than this loop, which is the loop
``psql \\copy`` runs. The statement goes through the extended protocol, so it is one statement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from psycopg import pq

from bitdotio.exports.formats import ExportFailure
from bitdotio.exports.source import failure_from

__all__ = ["copy_out"]

_FLUSH_BYTES = 1 << 20


def copy_out(
    conn: psycopg.Connection,
    statement: bytes,
    write: Callable[[bytearray], object],
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run ``statement`` (a ``COPY ... TO STDOUT``), pass its output to ``write`` in chunks
    that end at row boundaries; returns the rows copied."""
    pgconn = conn.pgconn
    pgconn.send_query_params(statement, None)
    first = pgconn.get_result()
    if first is None or first.status != pq.ExecStatus.COPY_OUT:
        _drain(pgconn)
        raise _error(conn, first)
    buffer = bytearray()
    get = pgconn.get_copy_data
    while True:
        size, data = get(0)
        if size < 0:
            break
        buffer += data
        if len(buffer) >= _FLUSH_BYTES:
            write(buffer)
            buffer.clear()
            if stop is not None and stop.is_set():
                conn.close()  # Postgres ends the COPY when the client goes
                raise ExportFailure("Interrupted", "The worker stopped during the export")
    result = pgconn.get_result()
    _drain(pgconn)
    if result is None or result.status != pq.ExecStatus.COMMAND_OK:
        raise _error(conn, result)
    if buffer:
        write(buffer)
    return int(result.command_tuples or 0)


def _drain(pgconn: pq.abc.PGconn) -> None:
    while pgconn.get_result() is not None:
        pass


def _error(conn: psycopg.Connection, result: pq.abc.PGresult | None) -> Exception:
    if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
        return failure_from(psycopg.errors.error_from_result(result, encoding="utf-8"))
    message = conn.pgconn.get_error_message()
    return ExportFailure("DatabaseUnavailable", message or "The COPY did not start")
