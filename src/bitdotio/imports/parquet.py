"""Parquet files: Arrow types to Postgres types, streamed one batch of a row group at a time.

The footer is checked before any data is read (security.md §4.6): the column count, and each
row group's declared uncompressed size. pyarrow >= 14.0.1 is required (CVE-2023-47248).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bitdotio.imports._payload import CHUNK_BYTES
from bitdotio.imports.columns import normalise_names
from bitdotio.imports.source import Column, ImportFailure, ImportLimits, Parsed, TableSource

__all__ = ["read_parquet"]

# One row group is decoded at a time; its declared uncompressed size bounds the memory used.
MAX_ROW_GROUP_BYTES = 512 * 1024**2
_MAX_BATCH_ROWS = 65_536


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


# pyarrow.csv writes these directly in a form Postgres reads; other types are converted first.
_SCALARS: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "boolean"),
    (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), "smallint"),
    (lambda t: t in (pa.int32(), pa.uint16()), "integer"),
    (lambda t: t in (pa.int64(), pa.uint32()), "bigint"),
    (lambda t: t == pa.uint64(), "numeric"),
    (lambda t: t in (pa.float16(), pa.float32()), "real"),
    (lambda t: t == pa.float64(), "double precision"),
    (pa.types.is_decimal, "numeric"),
    (_is_text, "text"),
    (pa.types.is_date, "date"),
    (lambda t: pa.types.is_timestamp(t) and t.tz is None, "timestamp"),
    (pa.types.is_timestamp, "timestamptz"),
    (pa.types.is_time, "time"),
    (pa.types.is_null, "text"),
]
_CONVERTED: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "bytea"),
    (pa.types.is_fixed_size_binary, "bytea"),
    (pa.types.is_duration, "interval"),
    (pa.types.is_nested, "jsonb"),  # list, large list, fixed-size list, struct, map, union
]


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    """Dictionary-encoded and extension columns load as their value or storage type."""
    if pa.types.is_dictionary(arrow_type):
        return _value_type(arrow_type.value_type)
    if isinstance(arrow_type, pa.ExtensionType):
        return _value_type(arrow_type.storage_type)
    return arrow_type


def pg_type_for(arrow_type: pa.DataType) -> str:
    value_type = _value_type(arrow_type)
    for matches, pg_type in _SCALARS + _CONVERTED:
        if matches(value_type):
            return pg_type
    return "text"  # anything newer (string views, ...) is cast to string


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(type(value).__name__)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, default=_json_default, allow_nan=False)
    except (ValueError, TypeError):
        raise ImportFailure(
            "InvalidValue",
            "A nested value holds NaN, Infinity or a map key JSON cannot store.",
        ) from None


def _nested_values(array: pa.Array) -> list[Any]:
    try:
        values: list[Any] = array.to_pylist(maps_as_pydicts="strict")
    except KeyError:
        raise ImportFailure("InvalidValue", "A map value has the same key twice.") from None
    return values


def _duration_text(value: int, unit: str) -> str:
    seconds = Decimal(value).scaleb(-{"s": 0, "ms": 3, "us": 6, "ns": 9}[unit])
    return f"{seconds} seconds"


def _converted(array: pa.Array, pg_type: str) -> pa.Array:
    """A column as pyarrow.csv can write it, in the text form Postgres reads for pg_type."""
    array = array.dictionary_decode() if pa.types.is_dictionary(array.type) else array
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if pg_type == "bytea":
        values = [None if v is None else "\\x" + v.hex() for v in array.to_pylist()]
    elif pg_type == "interval":
        unit = array.type.unit
        numbers = array.cast(pa.int64()).to_pylist()
        values = [None if v is None else _duration_text(v, unit) for v in numbers]
    elif pg_type == "jsonb":
        values = [None if v is None else _to_json(v) for v in _nested_values(array)]
    elif pg_type == "text" and not _is_text(array.type):
        return array.cast(pa.large_string())
    else:
        return array
    return pa.array(values, pa.large_string())


def _check_field_sizes(array: pa.Array, column: str, limits: ImportLimits) -> None:
    if not _is_text(array.type):
        return
    longest = pc.max(pc.binary_length(array)).as_py()
    if longest is not None and longest > limits.max_field_bytes:
        raise ImportFailure(
            "TooLarge",
            f"Column {column!r} holds a value of {longest} bytes; at most "
            f"{limits.max_field_bytes} are allowed.",
            column=column,
        )


def _check_metadata(file: pq.ParquetFile, limits: ImportLimits) -> None:
    columns = len(file.schema_arrow)
    if columns > limits.max_columns:
        raise ImportFailure(
            "TooManyColumns",
            f"The Parquet file has {columns} columns; at most {limits.max_columns} are allowed.",
            columns=columns,
        )
    for number in range(file.metadata.num_row_groups):
        declared = file.metadata.row_group(number).total_byte_size
        if declared > MAX_ROW_GROUP_BYTES:
            raise ImportFailure(
                "TooLarge",
                f"Row group {number} of the Parquet file holds {declared} bytes uncompressed; "
                f"at most {MAX_ROW_GROUP_BYTES} are allowed per row group.",
                row_group=number,
            )


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ImportFailure("CorruptFile", f"The Parquet file cannot be read: {exc}") from None


def _rows_per_batch(file: pq.ParquetFile) -> int:
    """About CHUNK_BYTES of payload per batch, estimated from the declared sizes."""
    meta = file.metadata
    total = sum(meta.row_group(n).total_byte_size for n in range(meta.num_row_groups))
    bytes_per_row = max(1, total // max(1, meta.num_rows))
    return max(1, min(_MAX_BATCH_ROWS, CHUNK_BYTES // bytes_per_row))


def _csv_chunks(table: pa.Table, rows_per_chunk: int) -> Iterator[tuple[bytes, int]]:
    """The table as CSV chunks of about CHUNK_BYTES, each with the rows it holds."""
    options = pa_csv.WriteOptions(include_header=False)  # "needed": strings always quoted
    start = 0
    while start < table.num_rows:
        part = table.slice(start, rows_per_chunk)
        out = io.BytesIO()
        pa_csv.write_csv(part, out, options)
        data = out.getvalue()
        yield data, part.num_rows
        start += part.num_rows
        rows_per_chunk = max(1, part.num_rows * CHUNK_BYTES // max(1, len(data)))


def _batches(path: Path, columns: list[Column], limits: ImportLimits) -> Iterator[bytes]:
    file = _open(path)
    rows_per_chunk = _rows_per_batch(file)
    try:
        for batch in file.iter_batches(batch_size=rows_per_chunk, use_threads=False):
            arrays = [
                _converted(array, column.pg_type)
                for array, column in zip(batch.columns, columns, strict=True)
            ]
            for array, column in zip(arrays, columns, strict=True):
                _check_field_sizes(array, column.name, limits)
            table = pa.table(arrays, names=[f"c{n}" for n in range(len(arrays))])
            for chunk, rows in _csv_chunks(table, rows_per_chunk):
                rows_per_chunk = max(1, rows * CHUNK_BYTES // max(1, len(chunk)))
                yield chunk
    except (pa.ArrowException, OSError) as exc:
        raise ImportFailure("CorruptFile", f"The Parquet file cannot be read: {exc}") from None
    finally:
        file.close()


def read_parquet(path: Path, *, table_name: str, limits: ImportLimits) -> Parsed:
    """One table named ``table_name``; see docs/reference/imports.md "Parquet" for types."""
    file = _open(path)
    try:
        _check_metadata(file, limits)
        schema = file.schema_arrow
        row_count = file.metadata.num_rows
    finally:
        file.close()
    names = normalise_names(schema.names)
    columns = [
        Column(name, pg_type_for(field.type)) for name, field in zip(names, schema, strict=True)
    ]
    source = TableSource(
        name=table_name,
        columns=columns,
        batches=lambda: _batches(path, columns, limits),
        origin="the Parquet file",
        row_count=row_count,
    )
    return Parsed(format="parquet", tables=[source])
