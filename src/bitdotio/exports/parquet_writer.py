"""Parquet: Postgres types mapped to Arrow types, written in row groups of bounded size.

| Postgres | Arrow |
|---|---|
| smallint, integer, bigint | int16, int32, int64 |
| real, double precision | float32, float64 |
| numeric(p, s), p <= 38 / p <= 76 | decimal128(p, s) / decimal256(p, s) |
| numeric without precision | string (the exact decimal text) |
| boolean | bool |
| date, time | date32, time64[us] |
| timestamp, timestamptz | timestamp[us], timestamp[us, tz=UTC] |
| bytea | binary |
| arrays of the types above, and of text | list<that type> (one-dimensional) |
| text, varchar, char, json, jsonb, uuid, interval and everything else | string (Postgres's text) |
"""

from __future__ import annotations

import decimal
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from bitdotio.exports.formats import ExportFailure
from bitdotio.exports.source import Column, Source

__all__ = ["arrow_type", "write_parquet"]

_FETCH_ROWS = 5_000
_ROW_GROUP_BYTES = 16 * 1024 * 1024
_ROW_GROUP_ROWS = 250_000

_SCALARS: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}
_ARRAY_ELEMENTS = {**_SCALARS, "text": pa.string(), "varchar": pa.string()}


def arrow_type(column: Column) -> pa.DataType | None:
    """The Arrow type ``column`` is written as; None: as a string of Postgres's text."""
    if column.type_name in _SCALARS:
        return _SCALARS[column.type_name]
    precision = column.numeric_precision()
    if precision is not None:
        p, s = precision
        if p <= 38:
            return pa.decimal128(p, s)
        if p <= 76:
            return pa.decimal256(p, s)
        return None
    if column.category == "A" and column.element in _ARRAY_ELEMENTS:
        return pa.list_(_ARRAY_ELEMENTS[column.element])
    return None


def _expression(column: Column, ref: sql.Composable) -> sql.Composable:
    return ref if arrow_type(column) is not None else sql.SQL("{}::text").format(ref)


def write_parquet(
    conn: psycopg.Connection,
    source: Source,
    out: BinaryIO,
    *,
    stop: threading.Event | None = None,
) -> int:
    schema = pa.schema([pa.field(c.name, arrow_type(c) or pa.string()) for c in source.columns])
    converters = [_converter(c) for c in source.columns]
    pending: list[pa.RecordBatch] = []
    pending_bytes = pending_rows = rows = 0
    with (
        pq.ParquetWriter(out, schema, compression="zstd") as writer,
        conn.cursor(name="bitio_export", binary=True) as cursor,
    ):
        cursor.execute(source.select(_expression))
        while batch := cursor.fetchmany(_FETCH_ROWS):
            pending.append(_record_batch(schema, converters, batch, rows))
            rows += len(batch)
            pending_rows += len(batch)
            pending_bytes += pending[-1].nbytes
            if pending_bytes >= _ROW_GROUP_BYTES or pending_rows >= _ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema), _ROW_GROUP_ROWS)
                pending, pending_bytes, pending_rows = [], 0, 0
                pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed pages
            if stop is not None and stop.is_set():
                raise ExportFailure("Interrupted", "The worker stopped during the export")
        if pending or rows == 0:
            writer.write_table(pa.Table.from_batches(pending, schema), _ROW_GROUP_ROWS)
    return rows


def _converter(column: Column) -> Callable[[Any], Any] | None:
    """A per-value change before Arrow takes the column (None: take it as it is)."""
    return _finite_decimal if column.numeric_precision() is not None else None


def _finite_decimal(value: decimal.Decimal | None) -> decimal.Decimal | None:
    if value is not None and not value.is_finite():
        raise ValueError(f"{value} cannot be stored in a Parquet decimal")
    return value


def _record_batch(
    schema: pa.Schema,
    converters: list[Callable[[Any], Any] | None],
    batch: list[tuple[Any, ...]],
    offset: int,
) -> pa.RecordBatch:
    arrays = []
    for index, values in enumerate(zip(*batch, strict=True)):
        field = schema.field(index)
        convert = converters[index]
        try:
            if convert is not None:
                values = tuple(convert(v) for v in values)
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise ExportFailure(
                "UnsupportedValue",
                f"Column {field.name!r} (rows {offset + 1}-{offset + len(batch)}) has a value "
                f"Parquet cannot hold as {field.type}: {exc}. Export as CSV or JSON, or cast "
                "the column in a query.",
                column=field.name,
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
