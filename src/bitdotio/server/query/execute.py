"""Stage 3: the only place a tenant connection runs a user's statement.

``BEGIN; SET LOCAL statement_timeout``, then exactly one statement through the extended
protocol (a second statement fails with 42601 instead of running: security.md §1.8), streamed
in chunks so a huge result is stopped at the byte cap instead of filling memory, then COMMIT.
The pool runs ``DISCARD ALL`` before the connection is reused.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import errors as pgerrors
from psycopg import generators, pq, sql
from psycopg.adapt import Transformer
from psycopg_pool import AsyncConnectionPool

from bitdotio.errors import BitError
from bitdotio.server.errors import status_for_sqlstate
from bitdotio.server.query.plan import QueryPlan
from bitdotio.server.query.render import Renderer

__all__ = ["execute"]

_CHUNK_ROWS = 500
_ROWS = (pq.ExecStatus.TUPLES_CHUNK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_OK)


def _user_error(exc: psycopg.Error) -> BitError:
    """A failed user statement -> 4xx/5xx with its SQLSTATE and Postgres's own words."""
    sqlstate = exc.sqlstate
    diag = exc.diag
    message = diag.message_primary or str(exc)
    details = {
        k: v
        for k, v in (
            ("detail", diag.message_detail),
            ("hint", diag.message_hint),
            ("position", diag.statement_position),
        )
        if v
    }
    if sqlstate == "42601" and "multiple commands" in message:
        return BitError(
            "BIT301", "Exactly one SQL statement per query: " + message, sqlstate=sqlstate
        )
    if sqlstate == "57014":
        return BitError("BIT302", message, sqlstate=sqlstate)
    status = status_for_sqlstate(sqlstate)
    code = {403: "BIT304", 409: "BIT308", 503: "BIT305", 504: "BIT302"}.get(status, "BIT300")
    return BitError(code, message, sqlstate=sqlstate, details=details, http_status=status)


async def _stream(conn: psycopg.AsyncConnection, query_string: str, renderer: Renderer) -> None:
    pgconn = conn.pgconn
    pgconn.send_query_params(query_string.encode(), None)
    pgconn.set_chunked_rows_mode(_CHUNK_ROWS)
    await conn.wait(generators.send(pgconn))
    tx = Transformer(conn)
    first = True
    error: psycopg.Error | BitError | None = None
    while (res := await conn.wait(generators.fetch(pgconn))) is not None:
        status = res.status
        if status in _ROWS and error is None:
            tx.set_pgresult(res, set_loaders=first)
            if first:
                renderer.set_columns(
                    [(res.fname(i) or b"").decode() for i in range(res.nfields)],
                    [res.ftype(i) for i in range(res.nfields)],
                )
                first = False
            try:
                renderer.add_rows(tx.load_rows(0, res.ntuples, tuple))
            except BitError as exc:
                error = exc
                await conn.cancel_safe()
        elif status == pq.ExecStatus.FATAL_ERROR and error is None:
            error = pgerrors.error_from_result(res, encoding=conn.info.encoding)
        elif status in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT):
            error = error or BitError(
                "BIT300", "COPY is not available in /query; use a direct connection"
            )
            if status == pq.ExecStatus.COPY_IN:
                with contextlib.suppress(psycopg.Error):  # the server's "COPY failed" echo
                    await conn.wait(generators.copy_end(pgconn, b"COPY is not available"))
            else:
                while isinstance(await conn.wait(generators.copy_from(pgconn)), memoryview):
                    pass
    if isinstance(error, psycopg.Error):
        raise _user_error(error)
    if error is not None:
        raise error


async def execute(
    pool: AsyncConnectionPool,
    plan: QueryPlan,
    query_string: str,
    renderer: Renderer,
    type_names: dict[int, str],
) -> dict[int, str]:
    """Run the statement into ``renderer``; return type names for its columns' OIDs."""
    try:
        async with pool.connection() as conn:
            await conn.execute(
                sql.SQL("BEGIN; SET LOCAL statement_timeout = {}").format(
                    sql.Literal(plan.timeout_ms)
                )
            )
            try:
                await _stream(conn, query_string, renderer)
                names = await _type_names(conn, renderer.type_oids, type_names)
                await conn.execute("COMMIT")
            except BaseException:
                if conn.info.transaction_status != pq.TransactionStatus.UNKNOWN:
                    await conn.execute("ROLLBACK")
                raise
    except psycopg.OperationalError as exc:
        if exc.sqlstate and not exc.sqlstate.startswith(("08", "53", "57P")):
            raise _user_error(exc) from None  # e.g. a deferred constraint failing at COMMIT
        raise BitError("BIT305") from None
    except psycopg.Error as exc:
        raise _user_error(exc) from None
    return names


async def _type_names(
    conn: psycopg.AsyncConnection, oids: list[int], known: dict[int, str]
) -> dict[int, str]:
    """Builtin names come from ``known``; user-defined types are asked of this database."""
    missing = sorted({oid for oid in oids if oid not in known})
    if not missing:
        return known
    cur = await conn.execute(
        "SELECT t, pg_catalog.format_type(t, NULL) FROM pg_catalog.unnest(%s::pg_catalog.oid[]) t",
        [missing],
    )
    return {**known, **{oid: name for oid, name in await cur.fetchall()}}
