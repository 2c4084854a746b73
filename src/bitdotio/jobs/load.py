"""Loading an import into the tenant database, as the caller's own role (security.md §1.7).

Two phases, so that a failure leaves no new table and no rows, and big files load on several
cores:

1. **Staging.** Each table the import creates is first made under a hidden name in the target
   schema (``_bitio_import_<job>_<n>``, committed), then filled by ``copy_streams`` COPY
   streams in parallel, each in its own transaction; chunks of the payload go to the streams
   in turn. Postgres parses COPY input on one core per connection, so this is where the
   parallelism pays.
2. **Publish.** One transaction, whose id goes to ``on_xid`` before it changes anything (the
   catalog keeps it, so a retried job can ask whether it committed): rename each staging table
   to its real name, COPY the rows of tables that already existed (appends, columns matched by
   name), add primary keys, indexes and foreign keys, then ``before_commit`` and COMMIT.

Staging tables of a failed attempt are dropped at once, and by the next attempt if the worker
died (``load`` starts by dropping its job's leftovers). Rows of a big file loaded by several
streams are not stored in the file's order; tables without ORDER BY never promise an order.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from bitdotio.imports.source import PG_TYPES, Column, ImportFailure, Parsed, TableSource

__all__ = ["LoadedTable", "load"]

_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_GENERATED = re.compile(r"column_(\d+)")
_STAGING_PREFIX = "_bitio_import_"
_QUEUE_CHUNKS = 4  # per stream: a few MiB in flight, never the file


@dataclass(frozen=True)
class LoadedTable:
    schema: str
    name: str
    rows: int
    created: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "rows": self.rows,
            "created": self.created,
        }


def load(
    conninfo: str,
    parsed: Parsed,
    *,
    job_id: uuid.UUID,
    schema: str,
    timeout_s: float,
    copy_streams: int,
    on_xid: Callable[[int], None],
    before_commit: Callable[[list[LoadedTable]], None],
    stop: threading.Event | None = None,
) -> list[LoadedTable]:
    """Load every table of ``parsed`` into ``schema``; all or nothing. Setting ``stop`` (the
    worker is shutting down) abandons the load at the next chunk, leaving nothing behind."""
    stop = stop or threading.Event()
    prefix = f"{_STAGING_PREFIX}{job_id.hex[:16]}_"
    timeout = sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(timeout_s * 1000)))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(timeout)
        staged: dict[str, tuple[str, int]] = {}  # table name -> (staging name, rows)
        created_schema = False
        try:
            _drop_leftovers(conn, schema, prefix)
            created_schema = _ensure_schema(conn, schema)
            for n, table in enumerate(parsed.tables):
                if _existing_columns(conn, schema, table.name) is None:
                    staging = f"{prefix}{n}"
                    _create(conn, schema, staging, table.columns)
                    rows = _copy_parallel(
                        conninfo, timeout, schema, staging, table, copy_streams, stop
                    )
                    staged[table.name] = (staging, rows)
            return _publish(conn, parsed, schema, staged, on_xid, before_commit, stop)
        except BaseException as exc:
            with contextlib.suppress(psycopg.Error):
                _drop_leftovers(conn, schema, prefix)
                if created_schema:  # only if still empty: the user may have raced us
                    conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(schema)))
            if isinstance(exc, psycopg.Error):
                raise _failure(exc) from None
            raise


def _drop_leftovers(conn: psycopg.Connection, schema: str, prefix: str) -> None:
    """Drop this job's staging tables: a failed attempt's, or a dead worker's."""
    cur = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind = 'r' AND starts_with(c.relname, %s)",
        [schema, prefix],
    )
    for (name,) in cur.fetchall():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_qualified(schema, name)))


def _publish(
    conn: psycopg.Connection,
    parsed: Parsed,
    schema: str,
    staged: dict[str, tuple[str, int]],
    on_xid: Callable[[int], None],
    before_commit: Callable[[list[LoadedTable]], None],
    stop: threading.Event,
) -> list[LoadedTable]:
    with conn.transaction():
        row = conn.execute("SELECT pg_catalog.pg_current_xact_id()::text").fetchone()
        assert row is not None
        on_xid(int(row[0]))
        loaded: list[LoadedTable] = []
        for table in parsed.tables:
            if table.name in staged:
                staging, rows = staged[table.name]
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        _qualified(schema, staging), sql.Identifier(table.name)
                    )
                )
                loaded.append(LoadedTable(schema, table.name, rows, created=True))
            else:
                loaded.append(_append(conn, schema, table, stop))
        for table in parsed.tables:
            if table.name in staged:
                _add_keys(conn, schema, table)
        _check(stop)
        before_commit(loaded)
    return loaded


def _qualified(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def _quote(name: str) -> str:
    """``name`` as a quoted identifier string for the ``to_reg*`` functions."""
    return '"' + name.replace('"', '""') + '"'


def _ensure_schema(conn: psycopg.Connection, schema: str) -> bool:
    """Create ``schema`` if it is missing; whether this call created it."""
    row = conn.execute(
        "SELECT pg_catalog.to_regnamespace(%s) IS NOT NULL", [_quote(schema)]
    ).fetchone()
    if row and row[0]:
        return False
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return True


def _existing_columns(conn: psycopg.Connection, schema: str, name: str) -> list[str] | None:
    row = conn.execute(
        "SELECT pg_catalog.to_regclass(%s)::oid", [f"{_quote(schema)}.{_quote(name)}"]
    ).fetchone()
    if row is None or row[0] is None:
        return None
    cur = conn.execute(
        "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        [row[0]],
    )
    return [r[0] for r in cur.fetchall()]


def _column_def(column: Column) -> sql.Composed:
    if column.pg_type not in PG_TYPES:  # readers choose from a fixed set; never user text
        raise ValueError(f"unexpected column type {column.pg_type!r}")
    return sql.SQL("{} {}{}").format(
        sql.Identifier(column.name),
        sql.SQL(column.pg_type),
        sql.SQL(" NOT NULL" if column.not_null else ""),
    )


def _create(conn: psycopg.Connection, schema: str, name: str, columns: list[Column]) -> None:
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(
            _qualified(schema, name), sql.SQL(", ").join(_column_def(c) for c in columns)
        )
    )


def _copy_statement(schema: str, name: str, columns: list[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        _qualified(schema, name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


@dataclass
class _Stream:
    """One COPY connection of a parallel load and the payload lines it was given."""

    index: int
    chunks: queue.Queue[bytes | None] = field(default_factory=lambda: queue.Queue(_QUEUE_CHUNKS))
    # (first payload line of a chunk in this stream, in the whole payload), to place errors
    starts: list[tuple[int, int]] = field(default_factory=list)
    lines: int = 0
    rows: int = 0
    error: BaseException | None = None

    def file_line(self, stream_line: int) -> int:
        base_stream, base_file = 0, 0
        for start_stream, start_file in self.starts:
            if start_stream >= stream_line:
                break
            base_stream, base_file = start_stream, start_file
        return base_file + (stream_line - base_stream)


def _copy_parallel(
    conninfo: str,
    timeout: sql.Composed,
    schema: str,
    staging: str,
    table: TableSource,
    streams: int,
    stop: threading.Event,
) -> int:
    """COPY ``table``'s payload into ``staging`` over ``streams`` connections; its rows."""
    statement = _copy_statement(schema, staging, [c.name for c in table.columns])
    workers = [_Stream(i) for i in range(max(streams, 1))]
    failed = threading.Event()
    conns = [psycopg.connect(conninfo) for _ in workers]
    try:
        threads = [
            threading.Thread(
                target=_run_stream, args=(conn, timeout, statement, w, failed), daemon=True
            )
            for conn, w in zip(conns, workers, strict=True)
        ]
        for thread in threads:
            thread.start()
        try:
            _distribute(table.batches(), workers, failed, stop)
        finally:
            for w in workers:
                _put(w, None, failed, force=True)
            for thread in threads:
                thread.join()
        for w in workers:
            if w.error is not None:
                if isinstance(w.error, psycopg.Error):
                    raise _failure(w.error, table, w)
                raise w.error
        for conn in conns:
            conn.commit()
        return sum(w.rows for w in workers)
    finally:
        for conn in conns:
            conn.close()


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise ImportFailure(
            "Interrupted", "The worker stopped during the import; it will be started again."
        )


def _distribute(
    chunks: Iterator[bytes], workers: list[_Stream], failed: threading.Event, stop: threading.Event
) -> None:
    """Chunks to the streams in turn, keeping track of which payload lines each got."""
    line = 1
    for n, chunk in enumerate(chunks):
        _check(stop)
        if failed.is_set():
            return
        worker = workers[n % len(workers)]
        worker.starts.append((worker.lines + 1, line))
        newlines = chunk.count(b"\n")
        worker.lines += newlines
        line += newlines
        _put(worker, chunk, failed)


def _put(worker: _Stream, item: bytes | None, failed: threading.Event, force: bool = False) -> None:
    while True:
        if failed.is_set() and not force:
            return
        try:
            worker.chunks.put(item, timeout=0.1)
            return
        except queue.Full:
            if force and worker.error is not None:
                return  # that stream stopped reading


def _run_stream(
    conn: psycopg.Connection,
    timeout: sql.Composed,
    statement: sql.Composed,
    worker: _Stream,
    failed: threading.Event,
) -> None:
    try:
        conn.execute(timeout)
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                while (chunk := worker.chunks.get()) is not None:
                    copy.write(chunk)
            worker.rows = cur.rowcount
    except BaseException as exc:
        worker.error = exc
        failed.set()


def _match_columns(table: TableSource, existing: list[str], schema: str) -> list[str]:
    """The existing table's column for each source column (docs/reference/imports.md)."""
    names = [c.name for c in table.columns]
    if all(_GENERATED.fullmatch(n) and int(n[7:]) == i + 1 for i, n in enumerate(names)):
        # No header row: match by position.
        if len(names) > len(existing):
            raise ImportFailure(
                "ColumnMismatch",
                f"The file has {len(names)} columns but {schema}.{table.name} has only "
                f"{len(existing)}; without a header row, columns are matched by position.",
                table=table.name,
                file_columns=len(names),
                table_columns=existing,
            )
        return existing[: len(names)]
    exact = set(existing)
    folded: dict[str, list[str]] = {}
    for column in existing:
        folded.setdefault(column.lower(), []).append(column)
    matched: list[str] = []
    missing: list[str] = []
    for name in names:
        if name in exact:
            matched.append(name)
        elif len(folded.get(name.lower(), [])) == 1:
            matched.append(folded[name.lower()][0])
        else:
            missing.append(name)
    if missing:
        raise ImportFailure(
            "ColumnMismatch",
            f"{schema}.{table.name} already exists and has no column named "
            + ", ".join(repr(m) for m in missing)
            + ". Rename the file's columns, or import into a new table.",
            table=table.name,
            unmatched_columns=missing,
            table_columns=existing,
        )
    return matched


def _append(
    conn: psycopg.Connection, schema: str, table: TableSource, stop: threading.Event
) -> LoadedTable:
    """COPY into a table that exists, inside the publish transaction."""
    existing = _existing_columns(conn, schema, table.name)
    assert existing is not None
    statement = _copy_statement(schema, table.name, _match_columns(table, existing, schema))
    with conn.cursor() as cur:
        try:
            with cur.copy(statement) as copy:
                for chunk in table.batches():
                    _check(stop)
                    copy.write(chunk)
        except psycopg.Error as exc:
            raise _failure(exc, table) from None
        return LoadedTable(schema, table.name, cur.rowcount, created=False)


def _add_keys(conn: psycopg.Connection, schema: str, table: TableSource) -> None:
    """Primary key, indexes, then foreign keys: after the rows, which is faster."""
    target = _qualified(schema, table.name)
    if table.primary_key:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                target, sql.SQL(", ").join(map(sql.Identifier, table.primary_key))
            )
        )
    for index in table.indexes:
        conn.execute(
            sql.SQL("CREATE {}INDEX ON {} ({})").format(
                sql.SQL("UNIQUE " if index.unique else ""),
                target,
                sql.SQL(", ").join(map(sql.Identifier, index.columns)),
            )
        )
    for fk in table.foreign_keys:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                target,
                sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                _qualified(schema, fk.ref_table),
                sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
            )
        )


def _failure(
    exc: psycopg.Error, table: TableSource | None = None, stream: _Stream | None = None
) -> ImportFailure:
    """A Postgres error as something the user can act on, with the row it happened at."""
    if isinstance(exc.__cause__, ImportFailure):
        return exc.__cause__  # a reader's failure while COPY pulled its payload
    diag = exc.diag
    message = diag.message_primary or str(exc).strip()
    details: dict[str, Any] = {"sqlstate": exc.sqlstate}
    if diag.message_detail:
        details["detail"] = diag.message_detail
    sqlstate = exc.sqlstate or ""
    if table is not None:
        details["table"] = table.name
        match = _COPY_CONTEXT.search(diag.context or "")
        if match:
            line = int(match.group(1))
            details.update(table.row_origin(stream.file_line(line) if stream else line))
            if match.group(2):
                details["column"] = match.group(2)
    where = ", ".join(
        f"{k} {v}" for k, v in details.items() if k in ("line", "row", "sheet", "column")
    )
    text = f"{message} ({table.origin}{', ' + where if where else ''})" if table else message
    if sqlstate == "42501":
        return ImportFailure("PermissionDenied", f"Permission denied: {message}", **details)
    if sqlstate == "57014":
        return ImportFailure(
            "Timeout", "The import took longer than the time limit and was stopped", **details
        )
    if sqlstate in ("53100", "53200", "54000"):
        return ImportFailure("ResourceLimit", text, **details)
    if sqlstate == "54011":
        return ImportFailure("TooManyColumns", text, **details)
    if sqlstate.startswith(("22", "23")):
        return ImportFailure("InvalidValue", text, **details)
    if sqlstate.startswith("42"):
        return ImportFailure("InvalidTable", text, **details)
    return ImportFailure("LoadFailed", text, **details)
