"""The platform's error catalogue: ``BitError`` with a stable ``BIT`` code, a kind and a status.

Codes are grouped by subsystem and never reused (retired ones stay as comments):
``BIT0xx`` catalog and cluster, ``BIT1xx`` request validation, ``BIT2xx`` auth and keys,
``BIT3xx`` query, ``BIT4xx`` import/export, ``BIT5xx`` proxy. Every code is listed in
``docs/reference/errors.md`` (a test checks). Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CATALOGUE", "BitError", "ErrorCode"]


@dataclass(frozen=True)
class ErrorCode:
    code: str
    kind: str  # the log and metric label; also bit.io's ``error.type``
    http_status: int
    message: str  # default public message


def _codes(*codes: ErrorCode) -> dict[str, ErrorCode]:
    return {c.code: c for c in codes}


CATALOGUE: dict[str, ErrorCode] = _codes(
    # catalog and cluster
    ErrorCode("BIT001", "Internal", 500, "Internal server error"),
    ErrorCode("BIT002", "PostgresNotFound", 500, "No Postgres server binaries found"),
    ErrorCode("BIT003", "PostgresStartFailed", 500, "The embedded Postgres did not start"),
    ErrorCode("BIT004", "NotReady", 503, "The platform is starting or stopping"),
    ErrorCode("BIT005", "DataDirUnusable", 500, "The data directory cannot be used"),
    # request validation
    ErrorCode("BIT100", "NotFound", 404, "Not Found"),
    ErrorCode("BIT101", "InvalidName", 400, "Invalid database name"),
    ErrorCode("BIT102", "NameConflict", 409, "A database with that name already exists"),
    ErrorCode(
        "BIT103", "NameReserved", 409, "That name is reserved after a recent delete or rename"
    ),
    ErrorCode("BIT104", "DatabaseNotFound", 404, "Database not found"),
    ErrorCode("BIT105", "Forbidden", 403, "You do not have permission to do this"),
    ErrorCode("BIT106", "InvalidUsername", 400, "Invalid username"),
    ErrorCode("BIT107", "UserExists", 409, "A user with that name already exists"),
    ErrorCode("BIT108", "MethodNotAllowed", 405, "Method Not Allowed"),
    ErrorCode("BIT109", "BadRequest", 400, "Bad request"),
    ErrorCode("BIT110", "RequestTooLarge", 413, "The request body is too large"),
    # auth and keys
    ErrorCode("BIT200", "InvalidApiKey", 401, "Invalid API key"),
    ErrorCode("BIT201", "KeyNotFound", 404, "API key not found"),
    # query
    ErrorCode("BIT300", "SqlError", 400, "The query failed"),
    ErrorCode("BIT301", "MultipleStatements", 400, "Exactly one SQL statement per query"),
    ErrorCode("BIT302", "QueryTimeout", 504, "The query ran longer than the time limit"),
    ErrorCode("BIT303", "ResultTooLarge", 400, "The result is larger than the size limit"),
    ErrorCode("BIT304", "PermissionDenied", 403, "Permission denied"),
    ErrorCode("BIT305", "DatabaseUnavailable", 503, "The database is unavailable"),
    ErrorCode("BIT306", "EmptyQuery", 400, "The query is empty"),
    ErrorCode("BIT307", "InvalidDataFormat", 400, "data_format must be rows or objects"),
    ErrorCode("BIT308", "QueryConflict", 409, "The query violated a uniqueness constraint"),
    # import/export
    ErrorCode(
        "BIT400",
        "NotImplemented",
        501,
        "Import and export jobs are not available on this server yet",
    ),
)


class BitError(Exception):
    """An error with a catalogue code. Only ``public_message()`` ever reaches a user."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        sqlstate: str | None = None,
        details: dict[str, Any] | None = None,
        http_status: int | None = None,
    ) -> None:
        self.entry = CATALOGUE[code]
        self.code = code
        self.kind = self.entry.kind
        self.http_status = http_status or self.entry.http_status
        self.sqlstate = sqlstate
        self.details = details or {}
        self._message = message
        super().__init__(f"{code} {self.public_message()}")

    def public_message(self) -> str:
        return self._message or self.entry.message
