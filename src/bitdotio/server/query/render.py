"""Stage 4: rows -> bit.io's QueryResult JSON, with a byte cap that errors, never truncates.

Value encoding (Decision, contract §10.4; docs/reference/query.md): integers, floats and
booleans are JSON numbers and booleans; json/jsonb are embedded; NaN and infinities, numeric,
and every other type are Postgres's own text output (numeric as a string keeps its precision;
timestamps in ISO style; bytea as ``\\x`` hex); arrays of these are JSON arrays; NULL is null.
"""

from __future__ import annotations

import json
import math
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.types.string import TextLoader

from bitdotio.column_names import dedupe
from bitdotio.errors import BitError
from bitdotio.server.query.parse import DataFormat

__all__ = ["Renderer", "configure_loaders"]

_TYPED = {"int2", "int4", "int8", "oid", "bool", "json", "jsonb", "float4", "float8"}


class _FloatLoader(Loader):
    """float4/float8: a JSON number, or Postgres's text for NaN and the infinities."""

    def load(self, data: Any) -> float | str:
        value = float(bytes(data))
        return value if math.isfinite(value) else bytes(data).decode()


async def configure_loaders(conn: psycopg.AsyncConnection) -> None:
    """Text format everywhere: only the types above become Python values, the rest stay text."""
    for info in psycopg.postgres.types:
        if info.name in ("float4", "float8"):
            conn.adapters.register_loader(info.oid, _FloatLoader)
        elif info.name not in _TYPED:
            conn.adapters.register_loader(info.oid, TextLoader)


class Renderer:
    def __init__(self, data_format: DataFormat, max_bytes: int) -> None:
        self.data_format = data_format
        self.max_bytes = max_bytes
        self.names: list[str] = []
        self.type_oids: list[int] = []
        self._chunks: list[bytes] = []
        self._size = 0

    def set_columns(self, names: list[str], type_oids: list[int]) -> None:
        self.names = dedupe(names)
        self.type_oids = type_oids

    def add_rows(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        data: list[Any] = rows
        if self.data_format == "objects":
            names = self.names
            data = [dict(zip(names, row, strict=True)) for row in rows]
        chunk = json.dumps(data, ensure_ascii=False, separators=(",", ":"))[1:-1].encode()
        self._size += len(chunk) + 1
        if self._size > self.max_bytes:
            raise BitError(
                "BIT303",
                f"The result is larger than {self.max_bytes} bytes; select fewer rows or "
                "columns, or use a direct connection",
            )
        self._chunks.append(chunk)

    def body(self, query_string: str, type_names: dict[int, str]) -> bytes:
        metadata = {
            name: type_names.get(oid, str(oid))
            for name, oid in zip(self.names, self.type_oids, strict=True)
        }
        head = json.dumps(
            {"query_string": query_string, "metadata": metadata},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return b"".join([head[:-1].encode(), b',"data":[', b",".join(self._chunks), b"]}"])
