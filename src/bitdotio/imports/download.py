"""Download an import job's ``file_url`` without letting it reach inside our network.

The rules are security.md 4.1 (SSRF through ``file_url``). One hop runs:

    parse (one parser) -> resolve once -> check every address
    -> connect to a checked address, Host and TLS SNI/verification for the name
    -> status: redirect (by hand, at most 3, each hop checked again), error, or
    -> stream the decoded body to ``dest`` under a byte cap and one wall-clock budget.

Everything raised for the user is an ``ImportFailure`` (``bitdotio.imports.source``):

    BlockedUrl      the URL breaks a rule: scheme, user info, host, port or address
    DownloadFailed  DNS, connect, TLS, timeout, HTTP status >= 400, too many redirects,
                    a broken or unsupported response body
    TooLarge        Content-Length or the decoded body over ``max_bytes``

Messages show the URL without user info and with any query string replaced by ``?…``
(pre-signed URLs carry their credentials there); they never echo a credential.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
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
from typing import Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit

import certifi
import idna
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

__all__ = ["check_address", "download"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 10.0  # per connection attempt, within the total budget
READ_TIMEOUT_S = 30.0  # longest silence between two reads, within the total budget
CHUNK_BYTES = 64 * 1024
USER_AGENT = f"bitdotio-import/{__version__}"

_SCHEMES = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The Fetch standard's "bad ports" (services that are not HTTP but may parse a request), plus
# Postgres: a URL never needs them, and a request to them is a cross-protocol attack.
_BLOCKED_PORTS = frozenset(
    {1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95}
    | {101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161}
    | {179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563}
    | {587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060}
    | {5061, 5432, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6697, 10080}
)
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_LINK_LOCAL_V4 = ipaddress.ip_network("169.254.0.0/16")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # is_global on Python 3.11.7
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # is_global on Python 3.11.7
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


# --- parse ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lowercase ASCII name without a trailing dot, or an IP address's text
    literal: IPAddress | None  # the host when the URL names an address
    port: int
    request_target: str  # path and query, as sent on the request line
    shown: str  # for messages: no user info, query hidden

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _SCHEMES[self.scheme] else f"{host}:{self.port}"


def _invalid(rule: str, message: str, **details: Any) -> NoReturn:
    raise ImportFailure("BlockedUrl", message, rule=rule, **details)


def _parse(url: str) -> _Target:
    """The only place a URL is taken apart. Invalid URLs are not echoed: they may hold secrets."""
    if any(ch <= " " or ch == "\x7f" for ch in url):
        _invalid("url", "The file_url contains spaces or control characters; encode them.")
    try:
        parts = urlsplit(url)
    except ValueError:
        _invalid("url", "The file_url is not a valid URL.")
    if parts.scheme not in _SCHEMES:
        found = f"not {parts.scheme}" if parts.scheme else "and the file_url has no scheme"
        _invalid("scheme", f"Only http and https URLs can be imported, {found}.")
    if "@" in parts.netloc:
        _invalid(
            "userinfo",
            "URLs with a user name or password are not accepted; use a link that works "
            "without them, such as a pre-signed URL.",
        )
    host, literal, port = _host_and_port(parts.netloc, parts.scheme)
    path = parts.path or "/"
    request_target = quote(path, safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        request_target += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    shown_host = parts.netloc.lower()
    shown_path = "/…" if "@" in path else request_target.split("?")[0]
    shown = f"{parts.scheme}://{shown_host}{shown_path}{'?…' if parts.query else ''}"
    return _Target(parts.scheme, host, literal, port, request_target, shown)


def _host_and_port(netloc: str, scheme: str) -> tuple[str, IPAddress | None, int]:
    literal: IPAddress | None = None
    if netloc.startswith("["):
        inside, closed, rest = netloc[1:].partition("]")
        if not closed or "%" in inside or (rest and not rest.startswith(":")):
            _invalid("host", "The file_url's host is not a valid bracketed IPv6 address.")
        try:
            literal = ipaddress.IPv6Address(inside)
        except ValueError:
            _invalid("host", "The file_url's host is not a valid bracketed IPv6 address.")
        host, port_text = str(literal), rest[1:]
        has_port = bool(rest)
    else:
        host, colon, port_text = netloc.partition(":")
        has_port = bool(colon)
        host = _host_name(host)
        literal = _ipv4_literal(host)
        if literal is not None:
            host = str(literal)
    port = _SCHEMES[scheme]
    if has_port and port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            _invalid("port", "The file_url's port is not a number from 1 to 65535.")
        port = int(port_text)
    if port in _BLOCKED_PORTS:
        _invalid("port", f"Downloads from port {port} are not allowed.", port=port)
    return host, literal, port


def _host_name(host: str) -> str:
    host = host.removesuffix(".")
    if not host:
        _invalid("host", "The file_url has no host name.")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            _invalid("host", "The file_url's host is not a valid internationalized domain name.")
    host = host.lower()
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        _invalid("host", "The file_url's host is not a valid host name.")
    return host


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address getaddrinfo would read from ``host`` (127.1, 0x7f000001, 0177.0.0.1, 0, ...)."""
    if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return None  # a name: its last label is not a number
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        _invalid("host", "The file_url's host looks like an IPv4 address but is not a valid one.")


# --- check ---------------------------------------------------------------------------------


def check_address(ip: str, allow_private: bool) -> IPAddress:
    """The address to connect to for ``ip`` (IPv4-mapped forms unwrapped), or BlockedUrl.

    With ``allow_private`` (setting ``import-allow-private-urls``) every address passes.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise ImportFailure(
            "DownloadFailed", "The host name resolved to something that is not an IP address."
        ) from None
    reason = None if allow_private else _refusal(address)
    if reason is not None:
        raise ImportFailure(
            "BlockedUrl",
            f"{_show(address)} is {reason}; only addresses on the public internet are allowed.",
            rule="address",
            address=_show(address),
        )
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _show(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        return _refusal_v6(address)
    if address in _METADATA:
        return "a cloud metadata address"
    if address in _THIS_NETWORK:
        return 'in 0.0.0.0/8 ("this host")'
    if address.is_loopback:
        return "a loopback address"
    if address in _SHARED:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address in _LINK_LOCAL_V4:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _refusal_v6(address: ipaddress.IPv6Address) -> str | None:
    if address.ipv4_mapped is not None:
        inner = _refusal(address.ipv4_mapped)
        return inner and f"{inner} (the IPv4-mapped form of {address.ipv4_mapped})"
    if address in _METADATA:
        return "a cloud metadata address"
    if address in _IPV4_COMPATIBLE:  # ::, ::1 and the deprecated IPv4-compatible form
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_loopback:
            return "a loopback address"
        return "an IPv4-compatible IPv6 address (deprecated)"
    embedded: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.sixtofour is not None:
        embedded.append(("6to4", address.sixtofour))
    if address in _NAT64:
        embedded.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    if address.teredo is not None:
        embedded += [("Teredo", address.teredo[0]), ("Teredo", address.teredo[1])]
    for kind, inner_address in embedded:
        inner = _refusal(inner_address)
        if inner is not None:
            return f"a {kind} address embedding {inner_address}, which is {inner}"
    if address in _NAT64_LOCAL:
        return "a local-use NAT64 address (64:ff9b:1::/48)"
    if address in _IPV4_TRANSLATED:
        return "an IPv4-translated address (::ffff:0:0:0/96)"
    if address in _UNIQUE_LOCAL:
        return "a unique local address (fc00::/7)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address"
    if not address.is_global:
        return "not a public address"
    return None


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


def _resolve(target: _Target, resolve: Resolver, budget: _Budget) -> list[str]:
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
    target: _Target, resolve: Resolver, allow_private: bool, budget: _Budget
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

    def __init__(self, budget: _Budget) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = budget.expired
        delay = max(0.0, budget.deadline - time.monotonic())
        self._timer = threading.Timer(delay, self._expire)
        self._timer.daemon = True
        self._timer.start()

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
        self._timer.cancel()


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
    target: _Target, address: IPAddress, budget: _Budget, watchdog: _Watchdog
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


def _headers(target: _Target) -> dict[str, str]:
    return {
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "gzip, identity",
        "Connection": "close",
    }


@contextlib.contextmanager
def _response(
    target: _Target, addresses: list[IPAddress], budget: _Budget, watchdog: _Watchdog
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


def _failed(target: _Target, exc: BaseException) -> ImportFailure:
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
    response: BaseHTTPResponse, dest: Path, max_bytes: int, target: _Target, budget: _Budget
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


def _raw_chunks(response: BaseHTTPResponse, target: _Target, budget: _Budget) -> Iterator[bytes]:
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


def _too_large(target: _Target, max_bytes: int, **details: Any) -> ImportFailure:
    return ImportFailure(
        "TooLarge",
        f"The file at {target.shown} is larger than the import limit of {max_bytes} bytes.",
        url=target.shown,
        max_bytes=max_bytes,
        **details,
    )


def _corrupt(target: _Target) -> ImportFailure:
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
) -> None:
    """Fetch ``url`` into ``dest`` (mode 0600), or raise ImportFailure and leave no ``dest``.

    ``timeout_s`` bounds the whole download: lookups, connections, redirects and the body.
    ``resolve`` maps (host, port) to IP strings; the default is ``socket.getaddrinfo``.
    """
    budget = _Budget(timeout_s, time.monotonic() + timeout_s)
    resolver = resolve or _getaddrinfo
    current = url
    watchdog = _Watchdog(budget)
    try:
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = _parse(current)
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
        shown = _parse(url).shown
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


def _next_url(current: str, response: BaseHTTPResponse, target: _Target) -> str:
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
