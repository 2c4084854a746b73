"""Stage 3: the only place a tenant connection runs a user's statement.

``BEGIN; SET LOCAL statement_timeout``, then exactly one statement through the extended
protocol (a second statement fails with 42601 instead of running: security.md §1.8), streamed
in chunks so a huge result is stopped at the byte cap instead of filling memory, then COMMIT,
and after the transaction ``DISCARD ALL``: all pipelined in one round trip. A connection whose
``DISCARD ALL`` succeeded goes back to the pool without another reset; on every other path the
pool runs ``DISCARD ALL`` itself before the connection is reused.
"""

from __future__ import annotations

import asyncio
import functools

import psycopg
from psycopg import errors as pgerrors
from psycopg import generators, pq, sql
from psycopg.abc import PQGen
from psycopg.adapt import Transformer
from psycopg.pq.abc import PGresult

from bitdotio.cluster.pools import Pools
from bitdotio.errors import BitError
from bitdotio.server.errors import status_for_sqlstate
from bitdotio.server.query.plan import QueryPlan
from bitdotio.server.query.render import Renderer

__all__ = ["execute"]

_CHUNK_ROWS = 500
_EXCHANGE_GRACE_S = 15.0
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
    status = status_for_sqlstate(sqlstate)
    code = {403: "BIT304", 409: "BIT308", 503: "BIT305", 504: "BIT302"}.get(status, "BIT300")
    return BitError(code, message, sqlstate=sqlstate, details=details, http_status=status)


@functools.lru_cache(maxsize=8)
def _set_timeout(timeout_ms: int) -> bytes:
    return sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout_ms)).as_bytes()


class _ConnectionSacrificed(Exception):
    """The exchange cannot be finished; the connection must be closed."""


class _Pipeline:
    """``BEGIN``, ``SET LOCAL statement_timeout``, the statement, ``COMMIT``, a Sync, then
    ``DISCARD ALL`` (which must run outside the transaction) sent at once in libpq pipeline
    mode: one round trip, extended protocol for all. Results are read back in order, the
    statement's in chunks of ``_CHUNK_ROWS`` rows.

    The exchange is one psycopg generator driven by a single ``conn.wait``: it yields only
    when it must wait for the socket, which keeps the per-request overhead low.
    """

    # Where the exchange is: each statement's results end with a NULL, each Sync with its own
    # PIPELINE_SYNC result; both move to the next step.
    BEGIN, SET_TIMEOUT, STATEMENT, COMMIT, SYNC, DISCARD, FINAL_SYNC, DONE = range(8)

    def __init__(self, conn: psycopg.AsyncConnection, renderer: Renderer) -> None:
        self.conn = conn
        self.renderer = renderer
        self.tx = Transformer(conn)
        self.first_chunk = True
        self.error: psycopg.Error | BitError | None = None
        self.discarded = False
        self.step = self.BEGIN

    async def run(self, query_string: str, timeout_ms: int) -> None:
        conn, pgconn = self.conn, self.conn.pgconn
        statements = [b"BEGIN", _set_timeout(timeout_ms), query_string.encode(), b"COMMIT"]
        pgconn.enter_pipeline_mode()
        try:
            # A safety net for the exchange itself; the server enforces the statement timeout.
            async with asyncio.timeout(timeout_ms / 1000 + _EXCHANGE_GRACE_S):
                await conn.wait(self._exchange(statements))
        except _ConnectionSacrificed:
            await conn.close()
            assert isinstance(self.error, BitError)
            raise self.error from None
        except TimeoutError:
            await conn.close()
            raise BitError("BIT305", "The database did not answer in time") from None
        finally:
            if not conn.closed:
                pgconn.exit_pipeline_mode()
        if self.error is not None:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                await conn.execute("ROLLBACK")  # the explicit transaction is left aborted
            raise _user_error(self.error) if isinstance(self.error, psycopg.Error) else self.error

    def _exchange(self, statements: list[bytes]) -> PQGen[None]:
        pgconn = self.conn.pgconn
        for statement in statements:
            pgconn.send_query_params(statement, None)
        pgconn.pipeline_sync()
        pgconn.send_query_params(b"DISCARD ALL", None)
        pgconn.pipeline_sync()
        yield from generators.send(pgconn)
        self.step = self.BEGIN
        while self.step != self.DONE:
            res = yield from generators.fetch(pgconn)
            if res is None:  # the end of one statement's results
                self.step += 1
                if self.step == self.STATEMENT:
                    pgconn.set_chunked_rows_mode(_CHUNK_ROWS)
                continue
            status = res.status
            step = self.step
            if status == pq.ExecStatus.PIPELINE_SYNC:
                self.step += 1
            elif step == self.DISCARD:
                # After a failed statement it meets the aborted transaction: the pool resets.
                self.discarded = status == pq.ExecStatus.COMMAND_OK
            elif status == pq.ExecStatus.FATAL_ERROR and self.error is None:
                error = pgerrors.error_from_result(res, encoding=self.conn.info.encoding)
                if step not in (self.STATEMENT, self.COMMIT):  # ours, not the user's
                    raise error
                self.error = error
            elif step == self.STATEMENT:
                yield from self._statement_result(res)

    def _statement_result(self, res: PGresult) -> PQGen[None]:
        status = res.status
        if status in _ROWS and self.error is None:
            self.tx.set_pgresult(res, set_loaders=self.first_chunk)
            if self.first_chunk:
                self.renderer.set_columns(
                    [(res.fname(i) or b"").decode() for i in range(res.nfields)],
                    [res.ftype(i) for i in range(res.nfields)],
                )
                self.first_chunk = False
            try:
                self.renderer.add_rows(self.tx.load_rows(0, res.ntuples, tuple))
            except BitError as exc:
                self.error = exc
                self.conn.pgconn.get_cancel().cancel()  # a local socket: quick
        elif status in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT):
            self.error = self.error or BitError(
                "BIT300", "COPY is not available in /query; use a direct connection"
            )
            if status == pq.ExecStatus.COPY_IN:
                # The server now waits for data while our pipelined statements queue behind
                # it: no clean way back. Drop the connection (the pool discards it).
                raise _ConnectionSacrificed
            while isinstance((yield from generators.copy_from(self.conn.pgconn)), memoryview):
                pass
            self.step += 1  # copy_from consumed the NULL that ends the statement's results


async def execute(
    pools: Pools,
    plan: QueryPlan,
    query_string: str,
    renderer: Renderer,
    type_names: dict[int, str],
) -> dict[int, str]:
    """Run the statement into ``renderer``; return type names for its columns' OIDs."""
    pool = await pools.tenant(plan.physical_name, plan.role_name, plan.group)
    try:
        async with pool.connection() as conn:
            pipeline = _Pipeline(conn, renderer)
            try:
                await pipeline.run(query_string, plan.timeout_ms)
                names = await _type_names(conn, renderer.type_oids, type_names)
            finally:
                if pipeline.discarded:  # _type_names's SELECT leaves no session state
                    pools.mark_discarded(conn)
            return names
    except psycopg.OperationalError as exc:
        if exc.sqlstate and not exc.sqlstate.startswith(("08", "53", "57P")):
            raise _user_error(exc) from None
        raise BitError("BIT305") from None
    except psycopg.Error as exc:
        raise _user_error(exc) from None


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
