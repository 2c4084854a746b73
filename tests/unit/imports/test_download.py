"""The file_url downloader against real local HTTP(S) servers (security.md 4.1).

No HTTP is mocked. Two seams are used instead of a network: ``resolve`` (injected DNS), and
``net``, which wraps urllib3's ``create_connection`` to record every address a connection is
opened to and to route a fake public address to the local server (so that rules for public
hosts can run with ``allow_private=False``). Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gzip
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bitdotio._version import __version__
from bitdotio.imports import download as download_module
from bitdotio.imports.download import download
from bitdotio.imports.source import ImportFailure
from tests.unit.imports.test_url_rules import BLOCKED

DATA = b"id,name\n1,alice\n2,bob\n"
PUBLIC = "93.184.215.14"  # global-looking; `net` routes it to 127.0.0.1
CAP = 1024 * 1024
BOMB = gzip.compress(b"\0" * (8 * CAP), compresslevel=9)  # about 8 KB on the wire


# --- servers -------------------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        url = urlsplit(self.path)
        route = url.path.strip("/").split("/")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            getattr(self, "route_" + route[0].replace("-", "_"))(*route[1:], **parse_qs(url.query))

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def route_data(self) -> None:
        self.reply(200, DATA, Content_Type="text/csv")

    def route_gzip(self) -> None:
        self.reply(200, gzip.compress(DATA), Content_Encoding="gzip")

    def route_gzip_members(self) -> None:
        self.reply(200, gzip.compress(DATA) + gzip.compress(DATA), Content_Encoding="gzip")

    def route_gzip_cut(self) -> None:
        self.reply(200, gzip.compress(DATA * 100)[:-20], Content_Encoding="gzip")

    def route_bomb(self) -> None:
        self.reply(200, BOMB, Content_Encoding="gzip")

    def route_brotli(self) -> None:
        self.reply(200, b"\x0b\x02\x80", Content_Encoding="br")

    def route_missing(self) -> None:
        self.reply(404, b"not here")

    def route_huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10 * CAP))
        self.end_headers()
        self.wfile.write(b"x" * 1000)

    def route_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"y" * 65536
        for _ in range(64):  # 4 MiB, four times the cap
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def route_redirect(self, to: list[str]) -> None:
        self.reply(302, Location=to[0])

    def route_hops(self, left: str) -> None:
        n = int(left)
        self.reply(302, Location=f"../hops/{n - 1}") if n else self.route_data()

    def route_stall_headers(self) -> None:
        self.server.release.wait(10)

    def route_stall_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.server.release.wait(10)

    def route_trickle_headers(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(1000):
            if self.server.release.wait(0.05):
                return
            self.wfile.write(b"X")
            self.wfile.flush()

    def route_trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            if self.server.release.wait(0.05):
                return
            self.wfile.write(b"z")
            self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls = tls
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.sni: list[str | None] = []  # server names sent by TLS clients

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate
        with wrapped:
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _serve(server: Server) -> Iterator[Server]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve(Server())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for files.example and 127.0.0.1: (cert, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "files.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("files.example"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = Server(tls=context)

    def remember_sni(_sock: Any, name: str | None, _context: ssl.SSLContext) -> None:
        server.sni.append(name)

    context.sni_callback = remember_sni
    yield from _serve(server)


class Net:
    """Every (host, port) urllib3 opened a connection to, and fake public hosts' routes."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.routes: dict[str, str] = {PUBLIC: "127.0.0.1"}


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    net = Net()
    original = urllib3.util.connection.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        net.connects.append((host, port))
        real = net.routes.get(host, host)
        if not ipaddress.ip_address(real).is_loopback:
            raise OSError(errno.ENETUNREACH, "no outside network in tests")
        return original((real, port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return net


def names(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver stub: host -> addresses; anything else fails like getaddrinfo."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"no lookup expected, got {host}")


def fetch(url: str, dest: Path, **kwargs: Any) -> None:
    kwargs = {"max_bytes": CAP, "timeout_s": 5.0, "allow_private": True, **kwargs}
    download(url, dest, **kwargs)


def failure(url: str, dest: Path, **kwargs: Any) -> ImportFailure:
    with pytest.raises(ImportFailure) as caught:
        fetch(url, dest, **kwargs)
    assert not dest.exists()
    return caught.value


# --- a normal download ---------------------------------------------------------------------


def test_downloads_to_a_private_file(server: Server, net: Net, tmp_path: Path) -> None:
    dest = tmp_path / "file"
    fetch(f"http://127.0.0.1:{server.port}/data", dest)
    assert dest.read_bytes() == DATA
    assert dest.stat().st_mode & 0o777 == 0o600
    path, headers = server.requests[0]
    assert path == "/data"
    assert headers["Host"] == f"127.0.0.1:{server.port}"
    assert headers["User-Agent"] == f"bitdotio-import/{__version__}"
    assert headers["Accept-Encoding"] == "gzip, identity"
    assert net.connects == [("127.0.0.1", server.port)]


def test_gzip_content_encoding_is_decoded(server: Server, tmp_path: Path) -> None:
    fetch(f"http://127.0.0.1:{server.port}/gzip", tmp_path / "file")
    assert (tmp_path / "file").read_bytes() == DATA


def test_concatenated_gzip_members_are_all_decoded(server: Server, tmp_path: Path) -> None:
    fetch(f"http://127.0.0.1:{server.port}/gzip-members", tmp_path / "file")
    assert (tmp_path / "file").read_bytes() == DATA + DATA


def test_truncated_gzip_fails(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/gzip-cut", tmp_path / "file")
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "encoding")


def test_proxies_from_the_environment_are_ignored(
    server: Server, net: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.2:3128/")
    fetch(f"http://127.0.0.1:{server.port}/data", tmp_path / "file")
    assert net.connects == [("127.0.0.1", server.port)]


def test_unsupported_content_encoding_fails(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/brotli", tmp_path / "file")
    assert error.error_type == "DownloadFailed"
    assert "'br'" in error.message


def test_an_existing_dest_is_replaced_and_made_private(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "file"
    dest.write_bytes(b"old contents that are longer than the new ones" * 10)
    dest.chmod(0o644)
    fetch(f"http://127.0.0.1:{server.port}/data", dest)
    assert dest.read_bytes() == DATA
    assert dest.stat().st_mode & 0o777 == 0o600


# --- addresses through download ------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "0",
        "0.0.0.0",
        "127.0.0.1.",
        "169.254.169.254",
        "100.64.0.1",
        "[fc00::1]",
        "[2002:7f00:1::]",
        "[64:ff9b::7f00:1]",
        "[::127.0.0.1]",
        "[::1]",
    ],
)
def test_url_with_a_blocked_address_is_refused_before_connecting(
    host: str, server: Server, net: Net, tmp_path: Path
) -> None:
    error = failure(
        f"http://{host}:{server.port}/data", tmp_path / "f", allow_private=False, resolve=no_dns
    )
    assert error.error_type == "BlockedUrl"
    assert error.details["rule"] == "address"
    assert net.connects == []
    assert server.requests == []


@pytest.mark.parametrize("ip", BLOCKED)
def test_name_resolving_to_a_blocked_address_is_refused(ip: str, net: Net, tmp_path: Path) -> None:
    resolve = names({"files.example": [ip]})
    error = failure(
        "http://files.example/data", tmp_path / "f", allow_private=False, resolve=resolve
    )
    assert error.error_type == "BlockedUrl"
    assert error.details["address"] in (ip, str(ipaddress.ip_address(ip)))
    assert net.connects == []


def test_every_resolved_address_is_checked(net: Net, tmp_path: Path) -> None:
    resolve = names({"files.example": [PUBLIC, "127.0.0.1"]})
    error = failure("http://files.example/", tmp_path / "f", allow_private=False, resolve=resolve)
    assert error.error_type == "BlockedUrl"
    assert net.connects == []


def test_localhost_through_the_system_resolver_is_refused(net: Net, tmp_path: Path) -> None:
    error = failure("http://localhost:8080/", tmp_path / "f", allow_private=False)
    assert error.error_type == "BlockedUrl"
    assert net.connects == []


# --- URL redaction and normalisation -------------------------------------------------------


def test_query_strings_are_not_echoed(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/missing?signature=s3cret", tmp_path / "f")
    assert server.requests[0][0] == "/missing?signature=s3cret"
    assert "s3cret" not in error.message
    assert error.details["url"] == f"http://127.0.0.1:{server.port}/missing?…"


def test_idna_and_trailing_dot_are_normalised(server: Server, net: Net, tmp_path: Path) -> None:
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    fetch(f"http://Bücher.Example.:{server.port}/data", tmp_path / "f", resolve=resolve)
    assert seen == ["xn--bcher-kva.example"]
    assert server.requests[0][1]["Host"] == f"xn--bcher-kva.example:{server.port}"


# --- the connection goes to the checked address --------------------------------------------


def test_connects_to_the_resolved_address_with_the_name_as_host(
    server: Server, net: Net, tmp_path: Path
) -> None:
    resolve = names({"files.example": ["127.0.0.1"]})
    fetch(f"http://files.example:{server.port}/data", tmp_path / "f", resolve=resolve)
    assert (tmp_path / "f").read_bytes() == DATA
    assert net.connects == [("127.0.0.1", server.port)]
    assert server.requests[0][1]["Host"] == f"files.example:{server.port}"


def test_dns_rebinding_cannot_reach_the_second_answer(
    server: Server, net: Net, tmp_path: Path
) -> None:
    answers = [[PUBLIC], ["127.0.0.1"]]
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), 2) - 1]

    url = f"http://files.example:{server.port}/data"
    fetch(url, tmp_path / "f", allow_private=False, resolve=rebinding)
    assert calls == ["files.example"]
    assert net.connects == [(PUBLIC, server.port)]  # never 127.0.0.1
    assert server.requests[0][1]["Host"] == f"files.example:{server.port}"


def test_the_next_checked_address_is_tried_when_one_is_unreachable(
    server: Server, net: Net, tmp_path: Path
) -> None:
    resolve = names({"files.example": ["198.51.100.7", "127.0.0.1"]})
    fetch(f"http://files.example:{server.port}/data", tmp_path / "f", resolve=resolve)
    assert net.connects == [("198.51.100.7", server.port), ("127.0.0.1", server.port)]


def test_unresolvable_host_fails(tmp_path: Path) -> None:
    error = failure("http://nowhere.example/", tmp_path / "f", resolve=names({}))
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "dns")


def test_refused_connection_fails(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}/", tmp_path / "f")
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "connect")


# --- redirects -----------------------------------------------------------------------------


def _public_url(server: Server, path: str) -> str:
    return f"http://files.example:{server.port}{path}"


PUBLIC_DNS = names(
    {"files.example": [PUBLIC], "inside.example": ["10.1.2.3"], "localhost": ["::1", "127.0.0.1"]}
)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/data",
        "http://[::ffff:127.0.0.1]:{port}/data",
        "http://inside.example:{port}/data",
        "http://localhost:{port}/data",
        "file:///etc/passwd",
        "http://alice:s3cret@files.example:{port}/data",
    ],
)
def test_redirect_to_a_blocked_url_is_refused(
    location: str, server: Server, net: Net, tmp_path: Path
) -> None:
    to = location.format(port=server.port)
    url = _public_url(server, f"/redirect?to={to}")
    error = failure(url, tmp_path / "f", allow_private=False, resolve=PUBLIC_DNS)
    assert error.error_type == "BlockedUrl"
    assert error.details["redirects"] == 1
    assert "s3cret" not in error.message
    assert net.connects == [(PUBLIC, server.port)]
    assert len(server.requests) == 1


def test_three_relative_redirects_are_followed(server: Server, net: Net, tmp_path: Path) -> None:
    url = _public_url(server, "/hops/3")
    fetch(url, tmp_path / "f", allow_private=False, resolve=PUBLIC_DNS)
    assert (tmp_path / "f").read_bytes() == DATA
    assert [path for path, _ in server.requests] == ["/hops/3", "/hops/2", "/hops/1", "/hops/0"]
    assert set(net.connects) == {(PUBLIC, server.port)}


def test_more_than_three_redirects_fail(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/hops/4", tmp_path / "f")
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "redirects")
    assert len(server.requests) == 4


# --- statuses and sizes --------------------------------------------------------------------


def test_http_error_status_fails_with_the_status(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/missing", tmp_path / "f")
    assert error.error_type == "DownloadFailed"
    assert error.details["status"] == 404
    assert "404" in error.message


def test_content_length_over_the_cap_is_refused_early(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/huge", tmp_path / "f")
    assert error.error_type == "TooLarge"
    assert error.details["content_length"] == 10 * CAP


def test_chunked_body_over_the_cap_is_refused(server: Server, tmp_path: Path) -> None:
    error = failure(f"http://127.0.0.1:{server.port}/chunked", tmp_path / "f")
    assert error.error_type == "TooLarge"
    assert error.details["max_bytes"] == CAP


def test_a_body_of_exactly_the_cap_is_accepted(server: Server, tmp_path: Path) -> None:
    fetch(f"http://127.0.0.1:{server.port}/data", tmp_path / "f", max_bytes=len(DATA))
    assert (tmp_path / "f").read_bytes() == DATA


def test_gzip_bomb_stops_at_the_cap(server: Server, tmp_path: Path) -> None:
    assert len(BOMB) < CAP // 16
    error = failure(f"http://127.0.0.1:{server.port}/bomb", tmp_path / "f")
    assert error.error_type == "TooLarge"


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/stall-headers", "/trickle-headers", "/stall-body", "/trickle"])
def test_a_stalling_server_fails_within_the_budget(
    path: str, server: Server, tmp_path: Path
) -> None:
    started = time.monotonic()
    error = failure(f"http://127.0.0.1:{server.port}{path}", tmp_path / "f", timeout_s=0.5)
    assert time.monotonic() - started < 2.5
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "timeout")


def test_a_stopping_worker_ends_a_download_at_once(server: Server, tmp_path: Path) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    error = failure(
        f"http://127.0.0.1:{server.port}/stall-body", tmp_path / "f", timeout_s=60, stop=stop
    )
    assert time.monotonic() - started < 2
    assert error.error_type == "DownloadFailed"


def test_a_slow_resolver_counts_against_the_budget(tmp_path: Path) -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(1)
        return ["127.0.0.1"]

    started = time.monotonic()
    error = failure("http://files.example/", tmp_path / "f", timeout_s=0.3, resolve=slow)
    assert time.monotonic() - started < 0.9
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "timeout")


# --- TLS -----------------------------------------------------------------------------------


def test_self_signed_certificate_is_refused(tls_server: Server, tmp_path: Path) -> None:
    error = failure(f"https://127.0.0.1:{tls_server.port}/data", tmp_path / "f")
    assert error.error_type == "DownloadFailed"
    assert "certificate verify failed" in error.message
    assert tls_server.requests == []


def test_tls_verifies_the_name_and_sends_it_as_sni(
    tls_server: Server,
    certificate: tuple[Path, Path],
    net: Net,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(download_module, "_ca_bundle", lambda: str(certificate[0]))
    resolve = names({"files.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    fetch(f"https://files.example:{tls_server.port}/data", tmp_path / "f", resolve=resolve)
    assert (tmp_path / "f").read_bytes() == DATA
    assert tls_server.sni == ["files.example"]
    assert tls_server.requests[0][1]["Host"] == f"files.example:{tls_server.port}"
    assert net.connects == [("127.0.0.1", tls_server.port)]

    error = failure(
        f"https://other.example:{tls_server.port}/data", tmp_path / "g", resolve=resolve
    )
    assert (error.error_type, error.details["reason"]) == ("DownloadFailed", "tls")
    assert len(tls_server.requests) == 1
