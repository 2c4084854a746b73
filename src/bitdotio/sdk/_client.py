"""The SDK object: every 2.2.1 method with the same arguments, order and returns (contract §5)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any, Literal

from bitdotio import config
from bitdotio.sdk._http import (
    API_VERSION,
    SDK_USER_AGENT,
    ApiClient,
    database_path,
    path_segment,
    resolve_base_url,
    resource_path,
    with_query,
)
from bitdotio.sdk._multipart import MultipartBody
from bitdotio.sdk._pools import DatabasePools, build_dsn, import_psycopg2
from bitdotio.sdk._validation import (
    COLLABORATOR_ROLES,
    CollaboratorRole,
    Role,
    validate_database_name,
    validate_new_database_name,
    validate_pool_bounds,
    validate_role,
    validate_scope,
    validate_token,
    validate_username,
)

__all__ = ["BitdotioClient", "ExportFormat", "InferHeader", "Role", "bitdotio"]

InferHeader = Literal["auto", "first_row", "no_header"]
ExportFormat = Literal["csv", "json", "xls", "parquet"]


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


class BitdotioClient:
    """A bit.io SDK object; build it with the ``bitdotio`` factory.

    Not safe to share across processes: create it after forking (contract §5.2).
    """

    def __init__(
        self,
        access_token: str,
        api_version: str = API_VERSION,
        min_conn: int = 0,
        max_conn: int = 100,
        *,
        api_url: str | None = None,
        db_host: str | None = None,
        db_port: int | None = None,
        timeout: float | None = None,
        user_agent: str = SDK_USER_AGENT,
    ) -> None:
        # 2.2.1's checks, in 2.2.1's order, before anything else (contract §5.2).
        validate_token(access_token)
        validate_pool_bounds(min_conn, max_conn)
        settings = config.load()
        self._access_token = access_token
        self._db_host: str = settings.db_host if db_host is None else db_host
        self._db_port: int = settings.db_port if db_port is None else db_port
        self._api_client = ApiClient(
            access_token,
            resolve_base_url(api_version, api_url, settings.api_url),
            read_timeout_s=settings.http_timeout_s if timeout is None else timeout,
            user_agent=user_agent,
        )
        self._pools = DatabasePools(self._dsn, min_conn, max_conn)

    def __repr__(self) -> str:
        return "<bitdotio SDK object: v2>"

    def close(self) -> None:
        """Close every pooled connection and the HTTP session (new in 2.3.0)."""
        self._pools.close()
        self._api_client.close()

    def __enter__(self) -> BitdotioClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _dsn(self, db_name: str) -> str:
        return build_dsn(db_name, self._access_token, self._db_host, self._db_port)

    # --- direct connections (contract §5.5)

    def get_connection(self, db_name: str) -> Any:
        """A new, unpooled psycopg2 connection; the caller commits and closes it."""
        return import_psycopg2().connect(self._dsn(db_name))

    @contextmanager
    def pooled_connection(self, db_name: str) -> Iterator[Any]:
        """A pooled psycopg2 connection: committed on normal exit, rolled back on error."""
        pool = self._pools.get(db_name)
        conn = pool.getconn()
        try:
            with conn:
                yield conn
        finally:
            pool.putconn(conn)

    @contextmanager
    def pooled_cursor(self, db_name: str) -> Iterator[Any]:
        """A cursor on a pooled connection, with ``pooled_connection``'s transaction rules."""
        with self.pooled_connection(db_name) as conn, conn.cursor() as cursor:
            yield cursor

    # --- HTTP API (contract §3.2 pins each request)

    def query(self, db_name: str, query_str: str, data_format: str | None = None) -> Any:
        """Run one SQL statement over HTTP, in its own transaction."""
        validate_database_name(db_name)
        params = {} if data_format is None else {"data_format": data_format}
        body = {"database_name": db_name, "query_string": query_str}
        return self._api_client.call("POST", with_query("/query", params), json=body)

    def list_databases(self) -> Any:
        return self._api_client.call("GET", "/db/", returning="databases")

    def create_database(
        self,
        name: str,
        is_private: bool = True,
        storage_limit_bytes: int | None = None,
    ) -> Any:
        """Create ``name`` (without the owner); returns the Database with its full name."""
        validate_new_database_name(name)
        body: dict[str, Any] = {"name": name, "is_private": is_private}
        # 2.2.1 dropped a limit of 0 (contract §5.6 item 9); only None is left out now.
        if storage_limit_bytes is not None:
            body["storage_limit_bytes"] = storage_limit_bytes
        return self._api_client.call("POST", "/db/", json=body)

    def get_database(self, db_name: str) -> Any:
        validate_database_name(db_name)
        return self._api_client.call("GET", database_path(db_name))

    def update_database(
        self,
        db_name: str,
        name: str | None = None,
        is_private: bool | str | None = None,
        storage_limit_bytes: int | None = None,
    ) -> Any:
        """Rename or change a database; fields left as None are not sent.

        ``is_private`` may be a string such as ``"false"``, sent as is: the 2.2.1 CLI did
        that and the server coerces it (contract §2.3).
        """
        validate_database_name(db_name)
        body = _without_none(
            {"name": name, "is_private": is_private, "storage_limit_bytes": storage_limit_bytes}
        )
        return self._api_client.call("PATCH", database_path(db_name), json=body)

    def delete_database(self, db_name: str) -> Any:
        validate_database_name(db_name)
        return self._api_client.call("DELETE", database_path(db_name))

    def create_import_job(
        self,
        db_name: str,
        table_name: str,
        schema_name: str | None = None,
        infer_header: InferHeader | None = None,
        file: IO[bytes] | None = None,
        file_url: str | None = None,
    ) -> Any:
        """Start an import from a binary file (multipart) or a URL (urlencoded), contract §3.3."""
        validate_database_name(db_name)
        if bool(file) == bool(file_url):
            raise ValueError("Must provide file XOR file_url")
        fields = [
            (key, value)
            for key, value in (
                ("table_name", table_name),
                ("schema_name", schema_name),
                ("infer_header", infer_header),
            )
            if value is not None
        ]
        path = database_path(db_name, "/import/")
        if file_url:
            return self._api_client.call("POST", path, data=[*fields, ("file_url", file_url)])
        assert file is not None  # guaranteed by the XOR check above
        upload = MultipartBody(fields, "file", table_name, file)
        headers = {"Content-Type": upload.content_type}
        return self._api_client.call("POST", path, data=upload, headers=headers)

    def get_import_job(self, import_id: str) -> Any:
        return self._api_client.call("GET", resource_path("import", import_id))

    def create_export_job(
        self,
        db_name: str,
        query_string: str | None = None,
        table_name: str | None = None,
        schema_name: str | None = None,
        file_name: str | None = None,
        export_format: ExportFormat = "csv",
        *,
        escape_formulas: bool | None = None,
    ) -> Any:
        """Start an export of a query's result or of a whole table.

        ``escape_formulas`` (beyond 2.2.1, CSV only) is sent only when given: the server
        default, true, prefixes text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or
        a carriage return with ``'``; ``False`` writes them as they are.
        """
        validate_database_name(db_name)
        if bool(query_string) == bool(table_name):
            raise ValueError("Must provide query_string XOR table_name")
        # The API requires a schema with a table; 2.2.1 filled in "public" (contract §2.3).
        if table_name and not schema_name:
            schema_name = "public"
        body = _without_none(
            {
                "query_string": query_string,
                "table_name": table_name,
                "schema_name": schema_name,
                "file_name": file_name,
                "export_format": export_format,
                "escape_formulas": escape_formulas,
            }
        )
        return self._api_client.call("POST", database_path(db_name, "/export/"), json=body)

    def get_export_job(self, export_id: str) -> Any:
        return self._api_client.call("GET", resource_path("export", export_id))

    def list_service_accounts(self) -> Any:
        return self._api_client.call("GET", "/service-account/", returning="service_accounts")

    def get_service_account(self, service_account_id: str) -> Any:
        return self._api_client.call("GET", resource_path("service-account", service_account_id))

    def create_service_account_key(self, service_account_id: str) -> Any:
        path = resource_path("service-account", service_account_id, "/api-key/")
        return self._api_client.call("POST", path)

    def revoke_service_account_keys(self, service_account_id: str) -> Any:
        path = resource_path("service-account", service_account_id, "/api-key/")
        return self._api_client.call("DELETE", path)

    def create_key(self, expires_in_s: int | None = None, *, read_only: bool = False) -> Any:
        """A new key with the requester's permissions.

        Beyond 2.2.1: with ``expires_in_s``, one that stops working that many seconds from
        now; with ``read_only``, one that may read but never write. Without either the request
        has no body, as 2.2.1 sent it.
        """
        body: dict[str, Any] = _without_none({"expires_in_s": expires_in_s})
        if read_only:
            body["read_only"] = True
        if not body:
            return self._api_client.call("POST", "/api-key/")
        return self._api_client.call("POST", "/api-key/", json=body)

    def list_keys(self) -> Any:
        """The requester's working keys (beyond 2.2.1): id, prefix, dates, read_only; never the
        keys."""
        return self._api_client.call("GET", "/api-key/", returning="api_keys")

    def revoke_keys(self, api_key: str | None = None) -> Any:
        """Revoke ``api_key``, or every key of the requester when it is not given."""
        params = {"api_key": api_key} if api_key else {}
        return self._api_client.call("DELETE", with_query("/api-key/", params))

    # --- beyond 2.2.1: bit.io managed these in its web console only (contract §2.2, §8)

    def list_collaborators(self, db_name: str) -> Any:
        """The users with a role on ``db_name``, the owner included: ``username``, ``role``,
        ``date_granted``."""
        validate_database_name(db_name)
        path = database_path(db_name, "/collaborators/")
        return self._api_client.call("GET", path, returning="collaborators")

    def set_collaborator(self, db_name: str, username: str, role: CollaboratorRole) -> Any:
        """Give ``username`` the role ``ADMIN``, ``WRITER`` or ``READER`` on ``db_name``, or
        change the role they have; ``OWNER`` (the owner only) transfers the database to them.
        Returns the collaborator."""
        validate_database_name(db_name)
        validate_username(username)
        validate_role(role, COLLABORATOR_ROLES)
        path = database_path(db_name, f"/collaborators/{path_segment(username)}")
        return self._api_client.call("PUT", path, json={"role": role})

    def remove_collaborator(self, db_name: str, username: str) -> None:
        """Take ``username``'s role on ``db_name`` away; anyone may remove themselves."""
        validate_database_name(db_name)
        validate_username(username)
        path = database_path(db_name, f"/collaborators/{path_segment(username)}")
        self._api_client.call("DELETE", path)

    def create_service_account(
        self,
        name: str,
        role: Role | None,
        databases: Sequence[str | Mapping[str, str]],
    ) -> Any:
        """A service account on ``databases``: ``owner/name`` strings get ``role``, and
        ``{"name": "owner/name", "role": "WRITER"}`` entries their own role; none above the
        requester's own role there. Returns it; mint its keys with
        ``create_service_account_key``."""
        validate_scope(databases, role)
        body = _without_none(
            {"name": name, "role": role, "databases": [_scope_entry(d) for d in databases]}
        )
        return self._api_client.call("POST", "/service-account/", json=body)

    def delete_service_account(self, service_account_id: str) -> None:
        """Delete a service account; its keys stop working at once."""
        path = resource_path("service-account", service_account_id)
        self._api_client.call("DELETE", path)


def _scope_entry(entry: str | Mapping[str, str]) -> str | dict[str, str]:
    return entry if isinstance(entry, str) else dict(entry)


def bitdotio(
    access_token: str,
    api_version: str = API_VERSION,
    min_conn: int = 0,
    max_conn: int = 100,
    *,
    api_url: str | None = None,
    db_host: str | None = None,
    db_port: int | None = None,
    timeout: float | None = None,
) -> BitdotioClient:
    """Return a bit.io SDK object; no network I/O happens here (contract §5.2).

    ``api_version`` stays the second positional parameter, as in 2.2.1, and may be an absolute
    URL. The keyword-only options default to the ``BITIO_API_URL``, ``BITIO_DB_HOST``,
    ``BITIO_DB_PORT`` and ``BITIO_HTTP_TIMEOUT_S`` settings; ``timeout`` is the read timeout
    in seconds of each HTTP call (connecting is capped at 10 s).
    """
    return BitdotioClient(
        access_token,
        api_version,
        min_conn,
        max_conn,
        api_url=api_url,
        db_host=db_host,
        db_port=db_port,
        timeout=timeout,
    )
