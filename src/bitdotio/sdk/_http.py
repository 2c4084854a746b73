"""The HTTP transport: base URL, timeouts, URL encoding and ``ApiError`` (contract §2, §3, §5.4).

The path and body builders are pure functions so that tests can pin the exact requests 2.2.1
sent (contract §3.2) without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import requests

from bitdotio._version import __version__
from bitdotio.sdk._exceptions import ApiError

__all__ = [
    "API_VERSION",
    "CLI_USER_AGENT",
    "CONNECT_TIMEOUT_S",
    "SDK_USER_AGENT",
    "ApiClient",
    "api_error",
    "database_path",
    "decode_response",
    "path_segment",
    "resolve_base_url",
    "resource_path",
    "with_query",
]

API_VERSION = "v2beta"
SDK_USER_AGENT = f"python-bitdotio-sdk/{__version__}"
CLI_USER_AGENT = f"python-bitdotio-cli/{__version__}"
# 2.2.1 had no timeouts at all (contract §5.6 item 2); connecting should never take long.
CONNECT_TIMEOUT_S = 10.0


def resolve_base_url(api_version: str, api_url: str | None, default_api_url: str) -> str:
    """The URL every path is appended to, without a trailing slash.

    ``api_url`` wins. An absolute URL passed as ``api_version`` is 2.2.1's only override and
    keeps working (contract §5.2). Otherwise the configured URL, which already ends in the
    default version; another relative version replaces that last path segment.
    """
    if api_url:
        return api_url.rstrip("/")
    if api_version.startswith(("http://", "https://")):
        return api_version.rstrip("/")
    base = default_api_url.rstrip("/")
    if api_version.strip("/") == API_VERSION:
        return base
    return f"{base.rsplit('/', 1)[0]}/{api_version.strip('/')}"


def path_segment(value: object) -> str:
    """One percent-encoded path part: ``/`` becomes ``%2F``, so a value is never two parts."""
    return quote(str(value), safe="")


def database_path(db_name: str, suffix: str = "") -> str:
    """``/db/<owner>/<name><suffix>``, each part percent-encoded (contract §5.6 item 3).

    Slashes inside the database part are encoded as ``%2F`` (the Node SDK's form), so a name
    ending in ``/import`` cannot be mistaken for the import route (contract §2.1).
    """
    owner, _, name = db_name.partition("/")
    return f"/db/{path_segment(owner)}/{path_segment(name)}{suffix}"


def resource_path(collection: str, resource_id: object, suffix: str = "") -> str:
    """``/<collection>/<id><suffix>`` with the id percent-encoded, e.g. ``/import/<id>``."""
    return f"/{collection}/{path_segment(resource_id)}{suffix}"


def with_query(path: str, params: Mapping[str, str]) -> str:
    """Append an encoded query string; 2.2.1 appended raw values (contract §2.1)."""
    return f"{path}?{urlencode(params)}" if params else path


def api_error(response: requests.Response) -> ApiError:
    """``ApiError`` for a status >= 400: the parsed JSON body, or its text when not JSON."""
    try:
        data = response.json()
    except ValueError:
        data = response.text
    return ApiError(response.status_code, data)


def decode_response(response: requests.Response, returning: str | None = None) -> Any:
    """The parsed body of a success, or ``ApiError`` for a status >= 400.

    Unlike 2.2.1, an error body that is not JSON becomes ``ApiError(status, text)`` rather than
    a JSON-decode error (contract §5.6 item 9). A 2xx body that is not JSON still raises
    ``requests.exceptions.JSONDecodeError``.
    """
    if response.status_code >= 400:
        raise api_error(response)
    body = response.json()
    return body[returning] if returning else body


class ApiClient:
    """A keep-alive ``requests`` session bound to one key and one base URL."""

    def __init__(
        self,
        access_token: str,
        base_url: str,
        *,
        read_timeout_s: float,
        user_agent: str = SDK_USER_AGENT,
    ) -> None:
        self._base_url = base_url
        self._timeout = (CONNECT_TIMEOUT_S, read_timeout_s)
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/json",
                "Authorization": f"Bearer {access_token}",
                "User-Agent": user_agent,
            }
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request to ``<base URL><path>``; ``path`` must already be encoded."""
        kwargs.setdefault("timeout", self._timeout)
        return self._session.request(method, self._base_url + path, **kwargs)

    def call(self, method: str, path: str, *, returning: str | None = None, **kwargs: Any) -> Any:
        """``request`` followed by ``decode_response``."""
        return decode_response(self.request(method, path, **kwargs), returning)

    def close(self) -> None:
        self._session.close()
