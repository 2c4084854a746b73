"""The SDK's one exception class, ``ApiError``, and the list of everything the SDK raises.

What a ``bitdotio`` SDK object raises (contract §5.3, §5.4, §5.5):

* ``ValueError``, before any I/O, with 2.2.1's messages:
  ``Invalid access token``; ``min_conn and max_conn must both be greater than or equal to
  zero``; ``min_conn must be strictly less than max_conn``; ``Invalid database name``;
  ``Must provide file XOR file_url``; ``Must provide query_string XOR table_name``. The
  methods beyond 2.2.1 add ``Invalid role: must be ADMIN, WRITER or READER``,
  ``Invalid username``, ``databases must be a list of database names`` and ``databases must
  name at least one database``.
  ``bitdotio.config.ConfigError`` (a ``ValueError``) when a ``BITIO_*`` setting the SDK reads
  cannot be parsed.
* ``TypeError`` when ``create_import_job`` gets a file opened in text mode (checked before
  the request is sent; 2.2.1 failed half-way through the upload).
* ``ApiError`` for every HTTP status >= 400. ``data`` is the parsed JSON body, or the raw
  text when the body is not JSON.
* ``requests.exceptions.JSONDecodeError`` (also a ``ValueError``) when a 2xx body is not
  JSON, and ``KeyError`` when a list body lacks its ``databases``, ``service_accounts``,
  ``api_keys`` or ``collaborators`` key.
* ``requests.exceptions.RequestException`` subclasses (``ConnectionError``, ``Timeout``,
  ...) unchanged, for network failures. There are no retries.
* For direct connections: ``ImportError`` when psycopg2 is missing (after a hint on stderr),
  ``psycopg2.OperationalError`` and the other ``psycopg2.Error`` subclasses unchanged, and
  ``psycopg2.pool.PoolError("connection pool exhausted")`` when ``max_conn`` connections of
  one database are checked out.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """The API answered with a status >= 400; ``data`` is its body, unchanged."""

    def __init__(self, status_code: int, data: Any) -> None:
        # args == (status_code, data), as 2.2.1's instances had (contract §5.4).
        super().__init__(status_code, data)
        self.status_code = status_code
        self.data = data

    def __str__(self) -> str:
        return f"ApiError status_code={self.status_code} data={self.data!r}"
