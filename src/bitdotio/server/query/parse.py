"""Stage 1: the request -> a typed ``QueryRequest``, or a clear 4xx."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from pydantic import BaseModel

from bitdotio.catalog.names import FullName, parse_full_name
from bitdotio.errors import BitError
from bitdotio.server.api import json_body

__all__ = ["QueryBody", "QueryRequest", "parse", "read_body"]

DataFormat = Literal["rows", "objects"]


class QueryBody(BaseModel):
    database_name: str
    query_string: str


@dataclass(frozen=True)
class QueryRequest:
    database: FullName
    query_string: str
    data_format: DataFormat


async def read_body(request: Request) -> QueryBody:
    return await json_body(request, QueryBody)


def parse(body: QueryBody, data_format: str | None) -> QueryRequest:
    # Decision (contract §10.5): absent or empty means rows; any other unknown value is a 400.
    if data_format in (None, "", "rows"):
        fmt: DataFormat = "rows"
    elif data_format == "objects":
        fmt = "objects"
    else:
        raise BitError("BIT307", f"data_format must be 'rows' or 'objects', not {data_format!r}")
    if not body.query_string.strip():
        raise BitError("BIT306")
    database = parse_full_name(body.database_name)
    if database is None:
        raise BitError("BIT104")
    return QueryRequest(database, body.query_string, fmt)
