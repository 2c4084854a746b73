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
    sqlstate: str | None = None  # the Postgres endpoint's ErrorResponse code (BIT5xx)


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
    ErrorCode("BIT111", "UserNotFound", 404, "No user by that name"),
    ErrorCode("BIT112", "InvalidRole", 400, "That role cannot be given here"),
    # auth and keys
    ErrorCode("BIT200", "InvalidApiKey", 401, "Invalid API key"),
    ErrorCode("BIT201", "KeyNotFound", 404, "API key not found"),
    ErrorCode("BIT202", "UserOnly", 403, "Service-account keys cannot do this; use a user's key"),
    ErrorCode("BIT203", "ReadOnlyKey", 403, "This API key is read-only"),
    ErrorCode("BIT204", "ServiceAccountNotFound", 404, "Service account not found"),
    ErrorCode(
        "BIT205",
        "ServiceAccountExists",
        409,
        "You already have a service account with that name",
    ),
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
    # BIT400 NotImplemented (501): retired when export jobs arrived
    ErrorCode("BIT401", "ImportJobNotFound", 404, "Import job not found"),
    ErrorCode("BIT402", "UploadTooLarge", 413, "The file is larger than the upload limit"),
    ErrorCode("BIT403", "InvalidImportRequest", 400, "Provide exactly one of file or file_url"),
    ErrorCode("BIT404", "UploadIncomplete", 400, "The upload ended before the form was complete"),
    ErrorCode("BIT405", "ExportJobNotFound", 404, "Export job not found"),
    ErrorCode(
        "BIT406",
        "InvalidExportRequest",
        400,
        "Provide exactly one of query_string or table_name",
    ),
    ErrorCode("BIT407", "DownloadLinkExpired", 403, "This download link has expired"),
    ErrorCode("BIT408", "DownloadLinkInvalid", 403, "This download link is not valid"),
    ErrorCode("BIT409", "ExportFileGone", 404, "The export file is no longer available"),
    # the Postgres endpoint: ErrorResponses, worded the way Postgres words them
    ErrorCode("BIT500", "EndpointListenFailed", 500, "The Postgres endpoint cannot listen"),
    ErrorCode("BIT501", "PasswordFailed", 401, "password authentication failed", "28P01"),
    ErrorCode("BIT502", "DatabaseNotFound", 404, "database does not exist", "3D000"),
    ErrorCode("BIT503", "ConnectPermissionDenied", 403, "permission denied for database", "42501"),
    ErrorCode("BIT504", "TooManyConnections", 429, "too many connections", "53300"),
    ErrorCode("BIT505", "SslRequired", 400, "SSL connection is required", "28000"),
    ErrorCode("BIT506", "ProtocolViolation", 400, "protocol violation", "08P01"),
    ErrorCode("BIT507", "UnsupportedProtocol", 400, "unsupported frontend protocol", "0A000"),
    ErrorCode(
        "BIT508", "ParameterRefused", 400, "parameter cannot be set at connection time", "42501"
    ),
    ErrorCode(
        "BIT509",
        "IdleSessionTimeout",
        408,
        "terminating connection due to idle-session timeout",
        "57P05",
    ),
    ErrorCode(
        "BIT510",
        "IdleInTransactionTimeout",
        408,
        "terminating connection due to idle-in-transaction timeout",
        "25P03",
    ),
    ErrorCode(
        "BIT511",
        "AdminShutdown",
        503,
        "terminating connection due to administrator command",
        "57P01",
    ),
    ErrorCode("BIT512", "UpstreamUnavailable", 503, "could not reach the database", "08006"),
    ErrorCode(
        "BIT513",
        "TooManyAttempts",
        429,
        "too many failed attempts from this address; try again later",
        "28000",
    ),
    ErrorCode(
        "BIT514",
        "KeyRevoked",
        401,
        "terminating connection because its API key was revoked or has expired",
        "28000",
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
        self.sqlstate = sqlstate or self.entry.sqlstate
        self.details = details or {}
        self._message = message
        super().__init__(f"{code} {self.public_message()}")

    def public_message(self) -> str:
        return self._message or self.entry.message
