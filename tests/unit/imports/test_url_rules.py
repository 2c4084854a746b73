"""The rules for which file_url may be fetched (security.md 4.1), without any network.

URL parsing is tested through ``parse``, addresses through ``check_address``; that
``download`` applies both, to every hop and before connecting, is in ``test_download.py``.
"""

from __future__ import annotations

import ipaddress

import pytest

from bitdotio.imports.source import ImportFailure
from bitdotio.imports.url_rules import check_address, parse


def refusal(url: str) -> ImportFailure:
    with pytest.raises(ImportFailure) as caught:
        parse(url)
    return caught.value


# --- addresses (security.md 4.1 table and rules) -------------------------------------------

BLOCKED = [
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64
    "::127.0.0.1",  # IPv4-compatible
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "0.1.2.3",
    "127.0.0.1",
    "::1",
    "::",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "100.100.100.200",  # Alibaba metadata
    "fd00:ec2::254",  # AWS IPv6 metadata
    "fc00::1",  # unique local
    "fe80::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
]


@pytest.mark.parametrize("ip", BLOCKED)
def test_check_address_refuses(ip: str) -> None:
    with pytest.raises(ImportFailure) as caught:
        check_address(ip, allow_private=False)
    assert caught.value.error_type == "BlockedUrl"
    assert caught.value.details["rule"] == "address"


@pytest.mark.parametrize("ip", BLOCKED)
def test_allow_private_skips_the_address_rules(ip: str) -> None:
    check_address(ip, allow_private=True)


@pytest.mark.parametrize("ip", ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "2002:101:101::"])
def test_check_address_allows_public_addresses(ip: str) -> None:
    assert check_address(ip, allow_private=False) == ipaddress.ip_address(ip)


def test_check_address_unwraps_ipv4_mapped() -> None:
    assert check_address("::ffff:127.0.0.1", allow_private=True) == ipaddress.ip_address(
        "127.0.0.1"
    )


def test_message_names_the_rule() -> None:
    with pytest.raises(ImportFailure) as caught:
        check_address("::ffff:127.0.0.1", allow_private=False)
    assert "loopback" in caught.value.message
    assert "::ffff:127.0.0.1" in caught.value.message


# --- URL rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://files.example/a.csv",
        "gopher://files.example:70/_x",
        "s3://bucket/key",
        "data:text/csv,a,b",
        "/relative/path",
    ],
)
def test_other_schemes_are_refused(url: str) -> None:
    error = refusal(url)
    assert error.error_type == "BlockedUrl"
    assert error.details["rule"] == "scheme"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://[example.com]/", "url"),
        ("http://[127.0.0.1]/", "url"),
        ("http://[fe80::1%25eth0]/", "host"),
        ("http:///data", "host"),
        ("http://:80/data", "host"),
        ("http://files.example:0/", "port"),
        ("http://files.example:99999/", "port"),
        ("http://files.example:http/", "port"),
        ("http://files.example:5432/", "port"),
        ("http://files.example:22/", "port"),
        ("http://1.2.3.256/", "host"),
        ("http://files_.example..com/", "host"),
        ("http://files.example/a b", "url"),
        ("http://files.example/\nx", "url"),
    ],
)
def test_malformed_or_forbidden_urls_are_refused(url: str, rule: str) -> None:
    error = refusal(url)
    assert (error.error_type, error.details["rule"]) == ("BlockedUrl", rule)


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:s3cret@files.example/data",
        "http://s3cret@files.example/data",
        "http://alice:s3cret@127.0.0.1/data",
        "http://alice:s3/cret@files.example/data",
    ],
)
def test_user_info_is_refused_and_never_echoed(url: str) -> None:
    error = refusal(url)
    assert error.error_type == "BlockedUrl"
    assert "s3" not in error.message
    assert "s3" not in str(error.details)
