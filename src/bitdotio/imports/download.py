"""Download an import job's ``file_url`` without letting it reach inside our network.

The rules are security.md 4.1 (SSRF through ``file_url``); which URLs and addresses pass is
decided in ``url_rules``, and this module makes the connections. One hop runs:

    parse (one parser) -> resolve once -> check every address
    -> connect to a checked address, Host and TLS SNI/verification for the name
    -> status: redirect (by hand, at most 3, each hop checked again), error, or
    -> stream the decoded body to ``dest`` under a byte cap and one wall-clock budget.

Everything raised for the user is an ``ImportFailure`` (``bitdotio.imports.source``):

    BlockedUrl      the URL breaks a rule: scheme, user info, host, port or address
    DownloadFailed  DNS, connect, TLS, timeout, HTTP status >= 400, too many redirects,
                    a broken or unsupported response body
    TooLarge        Content-Length or the decoded body over ``max_bytes``

Messages show the URL as ``url_rules`` redacts it (``Target.shown``); they never echo a
credential.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import certifi
import urllib3
import urllib3.connection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import BaseHTTPResponse

from bitdotio._version import __version__
from bitdotio.imports.source import ImportFailure
from bitdotio.imports.url_rules import IPAddress, Target, check_address, parse

__all__ = ["download"]

Resolver = Callable[[str, int], list[str]]

MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 10.0  # per connection attempt, within the total budget
READ_TIMEOUT_S = 30.0  # longest silence between two reads, within the total budget
CHUNK_BYTES = 64 * 1024
USER_AGENT = f"bitdotio-import/{__version__}"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# --- budget, resolve -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    total_s: float
    deadline: float  # time.monotonic()
    expired: threading.Event = field(default_factory=threading.Event)  # set by _Watchdog

    def remaining(self, shown: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired.is_set():
            raise ImportFailure(
                "DownloadFailed",
                f"Downloading {shown} did not finish within {self.total_s:g} seconds.",
                url=shown,
                reason="timeout",
            )
        return left


def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _resolve(target: Target, resolve: Resolver, budget: _Budget) -> list[str]:
    """One lookup, in a daemon thread so that a slow resolver cannot outlast the budget."""
    outcome: list[list[str] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(resolve(target.host, target.port))
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)

    thread = threading.Thread(target=run, name="bitdotio-import-resolve", daemon=True)
    thread.start()
    thread.join(budget.remaining(target.shown))
    budget.remaining(target.shown)
    if not outcome:
        raise ImportFailure(
            "DownloadFailed",
            f"Looking up {target.host} for {target.shown} timed out.",
            url=target.shown,
            reason="timeout",
        )
    result = outcome[0]
    if isinstance(result, OSError | UnicodeError) or (isinstance(result, list) and not result):
        raise ImportFailure(
            "DownloadFailed",
            f"Could not resolve the host name {target.host} of {target.shown}.",
            url=target.shown,
            reason="dns",
        )
    if isinstance(result, BaseException):
        raise result
    return result


def _addresses(
    target: Target, resolve: Resolver, allow_private: bool, budget: _Budget
) -> list[IPAddress]:
    """Every address the host has, each checked; the connection goes to one of these."""
    found = [str(target.literal)] if target.literal else _resolve(target, resolve, budget)
    checked: list[IPAddress] = []
    for ip in found:
        try:
            address = check_address(ip, allow_private)
        except ImportFailure as exc:
            raise ImportFailure(
                exc.error_type,
                f"Refused to download {target.shown}: {exc.message}",
                url=target.shown,
                **exc.details,
            ) from None
        if address not in checked:
            checked.append(address)
    return checked


# --- connect, request ----------------------------------------------------------------------


def _ca_bundle() -> str:
    return certifi.where()


class _Watchdog:
    """Shuts every socket of a download down when the budget runs out.

    Socket timeouts bound each read, not their sum: a server sending a byte a second would
    keep a worker forever. This timer ends whatever read or handshake is blocked.
    """

    def __init__(self, budget: _Budget, stop: threading.Event | None = None) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = budget.expired
        self._deadline = budget.deadline
        self._stop = stop  # set by the worker when it shuts down: end the download now
        self._cancelled = threading.Event()
        self._timer = threading.Thread(target=self._watch, daemon=True)
        self._timer.start()

    def _watch(self) -> None:
        while not self._cancelled.wait(min(0.2, max(0.0, self._deadline - time.monotonic()))):
            stopping = self._stop is not None and self._stop.is_set()
            if stopping or time.monotonic() >= self._deadline:
                self._expire()
                return

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self._expired.is_set():
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self._expired.set()
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._cancelled.set()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._watchdog.watch(sock)
        return sock


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # before the TLS handshake, so that it is bounded too
        self._watchdog.watch(sock)
        return sock


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def _pool(
    target: Target, address: IPAddress, budget: _Budget, watchdog: _Watchdog
) -> urllib3.HTTPConnectionPool:
    left = budget.remaining(target.shown)
    timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_S, left), read=min(READ_TIMEOUT_S, left))
    if target.scheme == "https":
        return _HTTPSPool(
            str(address),
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=_ca_bundle(),
            server_hostname=target.host,  # SNI
            assert_hostname=target.host,  # the certificate must name the URL's host
            watchdog=watchdog,
        )
    return _HTTPPool(
        str(address), target.port, timeout=timeout, maxsize=1, retries=False, watchdog=watchdog
    )


def _headers(target: Target) -> dict[str, str]:
    return {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "gzip, identity",
        "Connection": "close",
    }


@contextlib.contextmanager
def _response(
    target: Target, addresses: list[IPAddress], budget: _Budget, watchdog: _Watchdog
) -> Iterator[BaseHTTPResponse]:
    """GET from the first checked address that accepts a connection."""
    for index, address in enumerate(addresses):
        with _pool(target, address, budget, watchdog) as pool:
            try:
                response = pool.urlopen(
                    "GET",
                    target.request_target,
                    headers=_headers(target),
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                    release_conn=False,
                )
            except NewConnectionError as exc:
                budget.remaining(target.shown)
                if index + 1 < len(addresses):
                    continue
                raise _failed(target, exc) from None
            except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
                budget.remaining(target.shown)
                raise _failed(target, exc) from None
            try:
                yield response
            finally:
                response.close()
            return


def _failed(target: Target, exc: BaseException) -> ImportFailure:
    def fail(reason: str, text: str) -> ImportFailure:
        return ImportFailure(
            "DownloadFailed",
            f"Downloading {target.shown} failed: {text}.",
            url=target.shown,
            reason=reason,
        )

    if isinstance(exc, NewConnectionError):
        return fail("connect", f"could not connect to {target.host} port {target.port}")
    if isinstance(exc, ConnectTimeoutError):
        return fail("timeout", f"connecting to {target.host} port {target.port} timed out")
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return fail("timeout", "the server stopped sending data")
    if isinstance(exc, SSLError) or _ssl_error(exc) is not None:
        return fail("tls", f"the TLS connection was refused: {_tls_reason(exc)}")
    return fail("connection", "the connection broke or the server's answer was malformed")


def _ssl_error(exc: BaseException | None) -> ssl.SSLError | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLError):
            return exc
        inner = [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
        exc = inner[0] if inner else (exc.__cause__ or exc.__context__)
        seen += 1
    return None


def _tls_reason(exc: BaseException) -> str:
    error = _ssl_error(exc)
    if isinstance(error, ssl.SSLCertVerificationError):  # also a certificate for another name
        return f"certificate verify failed: {error.verify_message or error.args[-1]}"
    if error is not None:
        return re.sub(r"\s*\(_ssl\.c:\d+\)", "", error.reason or str(error))
    return "TLS error"


# --- body ----------------------------------------------------------------------------------


class _Gunzip:
    """Decompress gzip members without ever producing more than CHUNK_BYTES at a time."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            out = self._inflate.decompress(data, CHUNK_BYTES)
            if out:
                yield out
            if self._inflate.eof:
                data = self._inflate.unused_data
                if not data:
                    return
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # another member
                continue
            data = self._inflate.unconsumed_tail
            if not data and len(out) < CHUNK_BYTES:
                return

    @property
    def complete(self) -> bool:
        return self._inflate.eof


def _save(
    response: BaseHTTPResponse, dest: Path, max_bytes: int, target: Target, budget: _Budget
) -> None:
    length = response.headers.get("Content-Length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise _too_large(target, max_bytes, content_length=int(length))
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise ImportFailure(
            "DownloadFailed",
            f"Downloading {target.shown} failed: the server compressed the file with "
            f"{encoding!r}, which is not supported.",
            url=target.shown,
            reason="encoding",
        )
    gunzip = _Gunzip() if encoding in ("gzip", "x-gzip") else None
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(dest, flags, 0o600), "wb", closefd=True) as out:
        os.fchmod(out.fileno(), 0o600)  # also when dest already existed
        written = 0
        for raw in _raw_chunks(response, target, budget):
            try:
                pieces = gunzip.feed(raw) if gunzip is not None else iter((raw,))
                for piece in pieces:
                    written += len(piece)
                    if written > max_bytes:
                        raise _too_large(target, max_bytes)
                    out.write(piece)
            except zlib.error:
                raise _corrupt(target) from None
        if gunzip is not None and not gunzip.complete:
            raise _corrupt(target)


def _raw_chunks(response: BaseHTTPResponse, target: Target, budget: _Budget) -> Iterator[bytes]:
    while True:
        try:
            chunk = response.read(CHUNK_BYTES, decode_content=False)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            budget.remaining(target.shown)
            raise _failed(target, exc) from None
        budget.remaining(target.shown)  # also when the watchdog's shutdown looked like an end
        if not chunk:
            return
        yield chunk


def _too_large(target: Target, max_bytes: int, **details: Any) -> ImportFailure:
    return ImportFailure(
        "TooLarge",
        f"The file at {target.shown} is larger than the import limit of {max_bytes} bytes.",
        url=target.shown,
        max_bytes=max_bytes,
        **details,
    )


def _corrupt(target: Target) -> ImportFailure:
    return ImportFailure(
        "DownloadFailed",
        f"Downloading {target.shown} failed: the gzip-compressed response is corrupt or cut short.",
        url=target.shown,
        reason="encoding",
    )


# --- the whole download --------------------------------------------------------------------


def download(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool,
    resolve: Resolver | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Fetch ``url`` into ``dest`` (mode 0600), or raise ImportFailure and leave no ``dest``.

    ``timeout_s`` bounds the whole download: lookups, connections, redirects and the body.
    ``resolve`` maps (host, port) to IP strings; the default is ``socket.getaddrinfo``.
    Setting ``stop`` ends the download at once, as if its time were up.
    """
    budget = _Budget(timeout_s, time.monotonic() + timeout_s)
    resolver = resolve or _getaddrinfo
    current = url
    watchdog = _Watchdog(budget, stop)
    try:
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = parse(current)
                addresses = _addresses(target, resolver, allow_private, budget)
            except ImportFailure as exc:
                if hop == 0 or exc.error_type != "BlockedUrl":
                    raise
                raise ImportFailure(
                    exc.error_type,
                    f"The server redirected to a URL that is not allowed. {exc.message}",
                    redirects=hop,
                    **exc.details,
                ) from None
            with _response(target, addresses, budget, watchdog) as response:
                status = response.status
                if status in _REDIRECT_STATUSES:
                    current = _next_url(current, response, target)
                    continue
                if not 200 <= status < 300:
                    raise ImportFailure(
                        "DownloadFailed",
                        f"Downloading {target.shown} failed: the server answered HTTP {status}.",
                        url=target.shown,
                        reason="status",
                        status=status,
                    )
                _save(response, dest, max_bytes, target, budget)
                return
        shown = parse(url).shown
        raise ImportFailure(
            "DownloadFailed",
            f"Downloading {shown} failed: more than {MAX_REDIRECTS} redirects.",
            url=shown,
            reason="redirects",
        )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        watchdog.cancel()


def _next_url(current: str, response: BaseHTTPResponse, target: Target) -> str:
    location = response.headers.get("Location")
    if not location:
        raise ImportFailure(
            "DownloadFailed",
            f"Downloading {target.shown} failed: HTTP {response.status} without a Location.",
            url=target.shown,
            reason="status",
            status=response.status,
        )
    return urljoin(current, location.strip())
