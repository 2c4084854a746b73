"""Whether a ``file_url`` may be fetched: one parse of the URL, and the port and address rules.

The rules are security.md 4.1 (SSRF through ``file_url``); nothing here touches the network.

- ``parse`` is the only place a URL is taken apart (``urlsplit``, then our own host and port
  handling). Only ``http`` and ``https``; no user info; no spaces or control characters. The
  host is IDNA-encoded, lowercased and loses a trailing dot; brackets hold only an IPv6 address
  (no zone). Numeric hosts are read the way ``getaddrinfo`` reads them (``127.1``,
  ``0x7f000001``, ``0177.0.0.1``, ``2130706433``, ``0``), so that they are checked as addresses.
- Ports: 1 to 65535, and none of the Fetch standard's "bad ports" nor Postgres's 5432.
- ``check_address`` refuses anything not on the public internet: loopback, ``0.0.0.0/8``,
  private, carrier-grade NAT ``100.64.0.0/10``, link-local, multicast, unique local
  ``fc00::/7``, cloud metadata addresses, IPv4-compatible and IPv4-translated forms,
  local-use NAT64, and any IPv4-mapped, 6to4, NAT64 or Teredo address embedding one of those.
  It returns the address to connect to, IPv4-mapped forms unwrapped. ``allow_private``
  (setting ``import-allow-private-urls``) turns the address rules off; the URL rules stay.
- ``Target.shown`` is the URL for messages: no user info, and any query string replaced by
  ``?…`` (pre-signed URLs carry their credentials there). A URL that fails to parse is never
  echoed.

A broken rule raises ``ImportFailure("BlockedUrl", ..., rule=...)`` with ``rule`` one of
``url``, ``scheme``, ``userinfo``, ``host``, ``port`` or ``address``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import idna

from bitdotio.imports.source import ImportFailure

__all__ = ["IPAddress", "Target", "check_address", "parse"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": 80, "https": 443}
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
class Target:
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


def parse(url: str) -> Target:
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
    return Target(parts.scheme, host, literal, port, request_target, shown)


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
