"""Raw-socket tests of the Postgres endpoint's pre-authentication state machine.

They follow rows 1-5, 8-10 and 12-14 of the wire-proxy hardening checklist (security.md section
3): the proxy must behave like Postgres 15 there, or stricter. Each test speaks the protocol by
hand through the small codec below, so that malformed, truncated, lying and out-of-order packets
can be sent that no driver would produce.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_data_dir
from tests.e2e.conftest import Server, free_port

pytestmark = pytest.mark.e2e

# --- protocol constants -------------------------------------------------------------------------

V2_0 = 2 << 16  # 131072
V3_0 = 3 << 16  # 196608
V3_1 = V3_0 + 1
V3_2 = V3_0 + 2
V3_99 = V3_0 + 99
V4_0 = 4 << 16  # 262144
CANCEL_CODE = 80877102
SSL_CODE = 80877103
GSSENC_CODE = 80877104
MAX_STARTUP = 10000  # MAX_STARTUP_PACKET_LENGTH, pqcomm.h
MAX_AUTH_TOKEN = 65535  # PG_MAX_AUTH_TOKEN_LENGTH, auth.c
AUTH_OK = 0
AUTH_CLEARTEXT = 3

DEFAULT_PARAMS = {"user": "api_user", "database": "alice/mydb"}
PROMPT_S = 3.0  # "closed promptly": well below the default 10 s handshake deadline
SLOW_TIMEOUT_S = 2.0  # the handshake deadline of the second server
SLOW_PER_IP = 5  # its cap on unauthenticated connections per client address

# --- a minimal frontend codec -------------------------------------------------------------------


def packet(code: int, body: bytes = b"") -> bytes:
    """An untyped startup-phase packet: int32 length (itself included), int32 code, body."""
    return struct.pack("!II", 8 + len(body), code) + body


def params_body(params: dict[str, str] | list[tuple[str, str]]) -> bytes:
    pairs = params.items() if isinstance(params, dict) else params
    return b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs) + b"\0"


def startup(
    params: dict[str, str] | list[tuple[str, str]] | None = None, code: int = V3_0
) -> bytes:
    return packet(code, params_body(DEFAULT_PARAMS if params is None else params))


def startup_of_length(total: int) -> bytes:
    """A valid v3.0 StartupMessage of exactly ``total`` bytes, padded in application_name."""
    bare = len(startup({**DEFAULT_PARAMS, "application_name": ""}))
    assert total >= bare, total
    data = startup({**DEFAULT_PARAMS, "application_name": "x" * (total - bare)})
    assert len(data) == total
    return data


def cancel(body: bytes = struct.pack("!II", 4242, 0x5EC2E7)) -> bytes:
    return packet(CANCEL_CODE, body)


SSL_REQUEST = packet(SSL_CODE)
GSSENC_REQUEST = packet(GSSENC_CODE)


def message(kind: bytes, body: bytes) -> bytes:
    """A typed frontend message: byte type, int32 length (itself included), body."""
    return kind + struct.pack("!I", 4 + len(body)) + body


def password(secret: bytes) -> bytes:
    return message(b"p", secret + b"\0")


# --- reading backend messages -------------------------------------------------------------------


class Closed(Exception):
    """The server closed the connection before the expected bytes arrived."""


def split_messages(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split complete backend messages; a truncated or malformed tail is an assertion failure."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= 5, f"truncated backend message at {pos}: {data[pos:]!r}"
        kind = data[pos : pos + 1]
        (length,) = struct.unpack("!I", data[pos + 1 : pos + 5])
        assert length >= 4, f"backend message {kind!r} with length {length}"
        assert len(data) - pos - 1 >= length, f"truncated {kind!r} message: {data[pos:]!r}"
        out.append((kind, data[pos + 5 : pos + 1 + length]))
        pos += 1 + length
    return out


def error_fields(body: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse/NoticeResponse body: {'S': 'FATAL', 'C': '28000', ...}."""
    fields: dict[str, str] = {}
    pos = 0
    while True:
        assert pos < len(body), f"ErrorResponse without its final NUL: {body!r}"
        code = body[pos : pos + 1]
        if code == b"\0":
            assert pos == len(body) - 1, f"bytes after the ErrorResponse terminator: {body!r}"
            return fields
        end = body.index(b"\0", pos + 1)
        fields[code.decode()] = body[pos + 1 : end].decode("utf-8", "replace")
        pos = end + 1


def negotiate_fields(body: bytes) -> tuple[int, list[str]]:
    """NegotiateProtocolVersion ('v'): newest minor version supported, unrecognised options."""
    minor, count = struct.unpack("!II", body[:8])
    names = body[8:].split(b"\0")
    assert names[-1] == b"" and len(names) == count + 1, f"malformed 'v' body: {body!r}"
    return minor, [n.decode() for n in names[:-1]]


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Conn:
    """One client connection to the endpoint, plaintext or (after :meth:`starttls`) TLS."""

    def __init__(self, port: int, timeout: float = 5.0, source: str = "127.0.0.1") -> None:
        self.sock: socket.socket = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        self.buf = b""
        self.eof = False
        self.error: BaseException | None = None  # why the read side ended, if not a clean EOF

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        """Send everything; False if the server had already closed the connection."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as exc:
            self.error = exc
            return False
        return True

    def _fill(self, deadline: float) -> bool:
        """Read more into the buffer: False at EOF; TimeoutError at the deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise
        except (ConnectionResetError, ConnectionAbortedError, ssl.SSLError) as exc:
            self.error, chunk = exc, b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_exact(self, n: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Closed(f"closed after {self.buf!r} while waiting for {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_message(self, timeout: float = 5.0) -> tuple[bytes, bytes]:
        header = self.read_exact(5, timeout)
        (length,) = struct.unpack("!I", header[1:])
        assert 4 <= length <= 1 << 20, f"implausible backend message header {header!r}"
        return header[:1], self.read_exact(length - 4, timeout)

    def read_until_close(self, timeout: float = PROMPT_S) -> tuple[bytes, bool]:
        """Everything the server sends until it closes: (data, closed within ``timeout``)."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return self.buf, False
        return self.buf, True

    def is_open(self, timeout: float = 0.05) -> bool:
        """True if the server neither closed the connection nor sent anything within timeout."""
        data, closed = self.read_until_close(timeout)
        return not closed and not data

    def starttls(self) -> None:
        assert self.buf == b"", f"bytes after 'S' before the TLS handshake: {self.buf!r}"
        self.sock = client_tls().wrap_socket(self.sock)

    # Composite steps of the normal flow --------------------------------------------------------

    def ssl_request(self) -> bytes:
        assert self.send(SSL_REQUEST)
        return self.read_exact(1)

    def secure(self) -> Conn:
        """SSLRequest, 'S', TLS handshake."""
        answer = self.ssl_request()
        assert answer == b"S", f"SSLRequest answered {answer!r}"
        self.starttls()
        return self

    def expect_password_request(self) -> None:
        kind, body = self.read_message()
        assert (kind, body) == (b"R", struct.pack("!I", AUTH_CLEARTEXT)), (
            f"expected AuthenticationCleartextPassword, got {kind!r} {body!r}"
            + (f" {error_fields(body)}" if kind == b"E" else "")
        )


def expect_closed(
    conn: Conn, timeout: float = PROMPT_S, *, replies: bool = True
) -> list[dict[str, str]]:
    """The server closes within ``timeout``; anything it sent first is ErrorResponses only.

    With ``replies=False`` it must send nothing at all. Returns the ErrorResponse fields.
    """
    data, closed = conn.read_until_close(timeout)
    assert closed, f"connection still open after {timeout}s; received {data[:300]!r}"
    if not replies:
        assert data == b"", f"expected a close without reply, got {data[:300]!r}"
    messages = split_messages(data)
    kinds = [kind for kind, _ in messages]
    assert set(kinds) <= {b"E"}, f"expected only ErrorResponses before the close, got {kinds}"
    errors = [error_fields(body) for _, body in messages]
    for fields in errors:
        assert fields.get("S") == "FATAL", fields
        assert len(fields.get("C", "")) == 5, fields
    return errors


def expect_fatal(conn: Conn, *codes: str) -> dict[str, str]:
    """The next message is a FATAL ErrorResponse with one of ``codes``; then the close."""
    try:
        kind, body = conn.read_message()
    except Closed as exc:
        raise AssertionError(f"closed without an ErrorResponse ({exc}; {conn.error!r})") from None
    except TimeoutError:
        raise AssertionError(f"no answer within 5 s; buffered {conn.buf!r}") from None
    assert kind == b"E", f"expected an ErrorResponse, got {kind!r} {body!r}"
    fields = error_fields(body)
    assert fields.get("S") == "FATAL", fields
    assert fields.get("M"), fields
    if codes:
        assert fields.get("C") in codes, fields
    expect_closed(conn)
    return fields


def still_answers(port: int) -> None:
    with Conn(port) as conn:
        answer = conn.ssl_request()
    assert answer in (b"S", b"N"), answer


# --- servers ------------------------------------------------------------------------------------


FAILED_LOGINS = 30  # limits_server's proxy-failed-logins-per-minute


def start_server(**env: str) -> Server:
    """``bit serve`` on free ports with its own data dir and extra BITIO_* settings."""
    srv = Server(make_data_dir("bitio-hardening-"), free_port(), free_port(), env=env)
    try:
        srv.start()
        line = next((s for s in srv.stdout_lines if s.startswith("Postgres endpoint:")), "")
        assert line.startswith("Postgres endpoint: postgresql://"), line
    except BaseException:
        stop_server(srv)
        raise
    return srv


def stop_server(srv: Server) -> None:
    if srv.process and srv.process.poll() is None:
        srv.stop()
    shutil.rmtree(srv.data_dir, ignore_errors=True)


# ``server`` (default settings, shared by the session) comes from tests/drivers/conftest.py.


@pytest.fixture(scope="module")
def limits_server() -> Iterator[Server]:
    """A second server with a short handshake deadline and a small per-IP cap.

    The failed logins of this module go here too, and its throttle test runs from another
    loopback address, so the allowance of 127.0.0.1 outlasts the module.
    """
    srv = start_server(
        BITIO_PROXY_HANDSHAKE_TIMEOUT_S=str(SLOW_TIMEOUT_S),
        BITIO_PROXY_UNAUTHENTICATED_PER_IP=str(SLOW_PER_IP),
        BITIO_PROXY_FAILED_LOGINS_PER_MINUTE=str(FAILED_LOGINS),
    )
    yield srv
    stop_server(srv)


def endpoint_stats(srv: Server) -> dict[str, int]:
    body = requests.get(f"{srv.base_url}/healthz", timeout=5).json()
    assert isinstance(body.get("endpoint"), dict), f"/healthz has no 'endpoint' object: {body}"
    stats = {k: body["endpoint"].get(k) for k in ("connections", "handshakes", "tasks")}
    assert all(isinstance(v, int) for v in stats.values()), body["endpoint"]
    return stats


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --- row 1: startup packet length -------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 3, 4, 7, MAX_STARTUP + 1, 2**31, 2**32 - 1])
def test_invalid_startup_length_is_closed(server: Server, length: int) -> None:
    with Conn(server.pg_port) as conn:
        conn.send(struct.pack("!II", length, V3_0) + b"user\0api_user\0\0")
        expect_closed(conn)
    still_answers(server.pg_port)


@pytest.mark.parametrize(
    "data",
    [
        b"\0\0",  # half a length word
        b"\0\0\0\x08",  # a length word only
        b"\0\0\0\x08\x04\xd2",  # SSLRequest cut inside its code
        startup()[:20],  # StartupMessage cut inside its parameters
        struct.pack("!II", MAX_STARTUP, V3_0) + b"user\0x\0",  # 10,000 announced, 16 sent
    ],
    ids=["half-length", "length-only", "ssl-cut", "startup-cut", "announced-10000"],
)
def test_truncated_startup_then_eof_is_closed(server: Server, data: bytes) -> None:
    with Conn(server.pg_port) as conn:
        conn.send(data)
        conn.sock.shutdown(socket.SHUT_WR)
        expect_closed(conn)
    still_answers(server.pg_port)


def test_shortest_frame_ssl_request_is_answered(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert len(SSL_REQUEST) == 8
        assert conn.ssl_request() == b"S"


def test_startup_without_parameters_is_answered(server: Server) -> None:
    """9 bytes (3.0 and the terminator): a valid frame, answered rather than dropped."""
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(packet(V3_0, b"\0"))
        kind, body = conn.read_message()
        assert kind in (b"E", b"R"), (kind, body)
        if kind == b"E":
            assert error_fields(body)["C"] != "08P01", error_fields(body)


def test_startup_of_200_bytes_is_accepted(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup_of_length(200))
        conn.expect_password_request()


def test_startup_of_10000_bytes_passes_the_length_check(server: Server) -> None:
    """The largest valid frame is parsed: a password request, or a refusal of its content
    (a ~9,950-character application_name may be refused by policy), never a framing error."""
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup_of_length(MAX_STARTUP))
        kind, body = conn.read_message()
        if kind == b"R":
            assert body == struct.pack("!I", AUTH_CLEARTEXT), body
        else:
            assert kind == b"E", (kind, body)
            fields = error_fields(body)
            assert fields["S"] == "FATAL" and fields["C"] != "08P01", fields
            assert "length" not in fields["M"], fields


# --- rows 2-4: encryption requests ------------------------------------------------------------


def test_ssl_request_and_startup_in_one_write_get_no_tls(server: Server) -> None:
    """CVE-2021-23214: bytes buffered behind an SSLRequest must not be honoured, nor TLS begun."""
    with Conn(server.pg_port) as conn:
        conn.send(SSL_REQUEST + startup())
        data, closed = conn.read_until_close()
        if not closed and data == b"S":
            try:  # describe the failure precisely: does TLS succeed, is the startup honoured?
                conn.buf = b""
                conn.starttls()
                kind, body = conn.read_message(1.0)
                detail = f"TLS succeeded; then {kind!r} {body!r}"
            except (OSError, Closed, AssertionError) as exc:
                detail = f"TLS then {exc!r}"
            pytest.fail(f"'S' and the connection kept open for TLS: {detail}")
        assert closed, f"connection still open after {PROMPT_S}s; received {data!r}"
        rest = data[1:] if data[:1] in (b"S", b"N") else data
        for kind, body in split_messages(rest):
            assert kind == b"E", (kind, body)
            fields = error_fields(body)
            assert fields["S"] == "FATAL" and fields["C"] == "08P01", fields
    still_answers(server.pg_port)


def test_second_ssl_request_inside_tls_is_refused(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        conn.send(SSL_REQUEST)
        expect_closed(conn)


def test_second_ssl_request_instead_of_client_hello_is_closed(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert conn.ssl_request() == b"S"
        conn.send(SSL_REQUEST)
        data, closed = conn.read_until_close()
        assert closed, f"connection still open after {PROMPT_S}s; received {data!r}"
        assert b"R\0\0\0" not in data, data


def test_gssenc_request_gets_n_then_ssl_still_works(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert conn.send(GSSENC_REQUEST)
        assert conn.read_exact(1) == b"N"
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()


def test_gssenc_request_twice_is_closed(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert conn.send(GSSENC_REQUEST)
        assert conn.read_exact(1) == b"N"
        conn.send(GSSENC_REQUEST)
        expect_closed(conn)


def test_gssenc_request_inside_tls_is_refused(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert conn.send(GSSENC_REQUEST)
        assert conn.read_exact(1) == b"N"
        conn.secure()
        conn.send(GSSENC_REQUEST)
        expect_closed(conn)


# --- row 5: TLS is required ---------------------------------------------------------------------


def test_plaintext_startup_is_refused_with_28000(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert conn.send(startup())
        fields = expect_fatal(conn, "28000")
        assert "ssl" in fields["M"].lower(), fields


# --- row 8: protocol versions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [V2_0, V4_0, 0, 1 << 16, 0x7FFFFFFF], ids=["2.0", "4.0", "0", "1.0", "32767.65535"]
)
def test_unsupported_protocol_major_is_refused(server: Server, code: int) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup(code=code))
        expect_fatal(conn, "0A000")


def test_protocol_3_0_gets_a_cleartext_password_request(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()


def test_protocol_3_2_with_unknown_option_is_negotiated_down(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup({**DEFAULT_PARAMS, "_pq_.foo": "bar"}, code=V3_2))
        kind, body = conn.read_message()
        assert kind == b"v", (kind, body)
        assert negotiate_fields(body) == (0, ["_pq_.foo"])
        conn.expect_password_request()


@pytest.mark.parametrize("code", [V3_1, V3_99], ids=["3.1", "3.99"])
def test_newer_protocol_3_minor_is_negotiated_down(server: Server, code: int) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup(code=code))
        kind, body = conn.read_message()
        assert kind == b"v", (kind, body)
        assert negotiate_fields(body) == (0, [])
        conn.expect_password_request()


# --- rows 9 and 12: one StartupMessage; the password message ------------------------------------


def test_second_startup_instead_of_password_is_refused(server: Server) -> None:
    """PgBouncer CVE-2026-107350: a second StartupMessage must never start a new login."""
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        conn.send(startup({"user": "admin", "database": "admin/other"}))
        expect_closed(conn)


def test_password_over_65535_bytes_is_closed(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        conn.send(password(b"v2_" + b"a" * (MAX_AUTH_TOKEN + 1)))
        expect_closed(conn)


@pytest.mark.parametrize("length", [MAX_AUTH_TOKEN + 1, 2**31 - 1, 2**32 - 1, 0, 3])
def test_lying_password_length_is_closed_promptly(server: Server, length: int) -> None:
    """Checked before reading the body: only the header is sent, and the close still comes."""
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        conn.send(b"p" + struct.pack("!I", length) + b"v2_abc")
        expect_closed(conn)


@pytest.mark.parametrize(
    "secret",
    [b"", b"hunter2", b"v2_", b"v2_abc-def", b"v2_abc def", b"V2_abcdef", b"v2_" + b"x" * 28],
    ids=["empty", "no-prefix", "prefix-only", "dash", "space", "upper-prefix", "unknown-key"],
)
def test_bad_password_is_refused_with_28p01(limits_server: Server, secret: bytes) -> None:
    with Conn(limits_server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        assert conn.send(password(secret))
        fields = expect_fatal(conn, "28P01")
        assert "password authentication failed" in fields["M"], fields
        assert secret.decode() not in fields["M"] or not secret, fields


def test_repeated_failures_are_refused_early(limits_server: Server) -> None:
    """After proxy-failed-logins-per-minute failures from one address, even the right key is
    refused there for the rest of the minute; other addresses are unaffected. Runs from
    127.0.0.3 so the other tests' address keeps its allowance."""

    def attempt(secret: bytes, source: str) -> dict[str, str]:
        with Conn(limits_server.pg_port, source=source) as conn:
            conn.secure()
            assert conn.send(startup())
            kind, body = conn.read_message()
            if kind == b"E":
                return error_fields(body)
            assert kind == b"R", kind
            assert conn.send(password(secret))
            kind, body = conn.read_message()
            return error_fields(body) if kind == b"E" else {"kind": kind.decode()}

    for _ in range(FAILED_LOGINS):
        assert attempt(b"v2_" + b"x" * 28, "127.0.0.3")["C"] == "28P01"
    refused = attempt(limits_server.admin_key.encode(), "127.0.0.3")
    assert refused["C"] == "28000" and "too many failed attempts" in refused["M"], refused
    # Another address gets past the key check (to "database does not exist": no such db).
    assert attempt(limits_server.admin_key.encode(), "127.0.0.4")["C"] == "3D000"


def test_password_with_nul_inside_is_refused(limits_server: Server) -> None:
    """Postgres 15 says 08P01 'invalid password packet size'; 28P01 is as good."""
    with Conn(limits_server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        assert conn.send(password(limits_server.admin_key.encode() + b"\0trailer"))
        expect_fatal(conn, "28P01", "08P01")


def test_admin_key_with_nul_prefix_is_refused(limits_server: Server) -> None:
    with Conn(limits_server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        assert conn.send(password(b"\0" + limits_server.admin_key.encode()))
        expect_fatal(conn, "28P01", "08P01")


# --- row 10: startup parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"replication": "database"},
        {"replication": "true"},
        {"options": "-c session_preload_libraries=x"},
        {"options": "-c="},
        {"options": "--session-preload-libraries=x"},
        {"options": "-crole=postgres"},
        {"role": "postgres"},
    ],
    ids=[
        "replication-database",
        "replication-true",
        "options-c-preload",
        "options-c=",
        "options--preload",
        "options-crole",
        "role",
    ],
)
def test_dangerous_startup_parameters_are_refused(server: Server, extra: dict[str, str]) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup({**DEFAULT_PARAMS, **extra}))
        expect_fatal(conn)
    still_answers(server.pg_port)


def test_10000_parameters_are_closed(server: Server) -> None:
    many = [(f"k{i}", "v") for i in range(10_000)]
    with Conn(server.pg_port) as conn:
        conn.secure()
        conn.send(startup([*DEFAULT_PARAMS.items(), *many]))
        expect_closed(conn)
    still_answers(server.pg_port)


def test_300_short_parameters_are_refused_or_accepted(server: Server) -> None:
    few = [(f"k{i}", "v") for i in range(300)]
    data = startup([*DEFAULT_PARAMS.items(), *few])
    assert len(data) <= MAX_STARTUP
    with Conn(server.pg_port) as conn:
        conn.secure()
        assert conn.send(data)
        kind, body = conn.read_message()
        if kind == b"E":
            assert error_fields(body)["S"] == "FATAL", error_fields(body)
            expect_closed(conn)
        else:
            assert (kind, body) == (b"R", struct.pack("!I", AUTH_CLEARTEXT)), (kind, body)
    still_answers(server.pg_port)


# --- row 13: CancelRequest ----------------------------------------------------------------------


def test_cancel_with_unknown_key_is_closed_without_reply(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        assert len(cancel()) == 16
        conn.send(cancel())
        expect_closed(conn, replies=False)
    still_answers(server.pg_port)


def test_cancel_inside_tls_with_unknown_key_is_closed_without_reply(server: Server) -> None:
    with Conn(server.pg_port) as conn:
        conn.secure()
        conn.send(cancel())
        expect_closed(conn, replies=False)


@pytest.mark.parametrize("key_len", [-4, 0, 3, 8, 257])
def test_cancel_with_wrong_length_is_closed(server: Server, key_len: int) -> None:
    """Packets of 8, 12, 15, 20 and 269 bytes: none may be answered or crash the proxy."""
    body = b"" if key_len < 0 else struct.pack("!I", 4242) + b"\x01" * key_len
    with Conn(server.pg_port) as conn:
        conn.send(cancel(body))
        expect_closed(conn)
    still_answers(server.pg_port)


# --- row 14: handshake deadline and per-IP cap (a second server) --------------------------------


def wait_handshakes_idle(srv: Server) -> None:
    assert wait_for(lambda: endpoint_stats(srv)["handshakes"] == 0, 5), endpoint_stats(srv)


def test_idle_client_is_closed_at_the_handshake_deadline(limits_server: Server) -> None:
    wait_handshakes_idle(limits_server)
    with Conn(limits_server.pg_port) as conn:
        started = time.monotonic()
        expect_closed(conn, SLOW_TIMEOUT_S + 3)
        elapsed = time.monotonic() - started
    assert SLOW_TIMEOUT_S * 0.8 <= elapsed <= SLOW_TIMEOUT_S + 3, elapsed


def test_trickling_client_is_closed_at_the_handshake_deadline(limits_server: Server) -> None:
    """One byte every 250 ms: the deadline covers the whole handshake, not each read."""
    wait_handshakes_idle(limits_server)
    data = startup_of_length(200)
    with Conn(limits_server.pg_port) as conn:
        started = time.monotonic()
        for i in range(len(data)):
            if not conn.send(data[i : i + 1]) or time.monotonic() - started > SLOW_TIMEOUT_S + 3:
                break
            if not conn.is_open(0.25):
                break
        elapsed = time.monotonic() - started
        expect_closed(conn, 1)
    assert elapsed <= SLOW_TIMEOUT_S + 2, f"still open after {elapsed:.1f}s of trickling"


def test_client_that_never_sends_the_password_is_closed(limits_server: Server) -> None:
    wait_handshakes_idle(limits_server)
    with Conn(limits_server.pg_port) as conn:
        started = time.monotonic()
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()
        expect_closed(conn, SLOW_TIMEOUT_S + 3)
        elapsed = time.monotonic() - started
    assert elapsed <= SLOW_TIMEOUT_S + 3, elapsed


def test_unauthenticated_connections_per_ip_are_capped(limits_server: Server) -> None:
    wait_handshakes_idle(limits_server)
    conns = [Conn(limits_server.pg_port) for _ in range(SLOW_PER_IP)]
    try:
        assert wait_for(
            lambda: endpoint_stats(limits_server)["handshakes"] == SLOW_PER_IP, 1, 0.05
        ), endpoint_stats(limits_server)
        started = time.monotonic()
        with Conn(limits_server.pg_port) as extra:
            expect_closed(extra, SLOW_TIMEOUT_S * 0.4)
        assert time.monotonic() - started < SLOW_TIMEOUT_S * 0.5
        assert all(c.is_open(0.01) for c in conns), "the first connections were closed too"
        for c in conns:  # ... until their own deadline
            expect_closed(c, SLOW_TIMEOUT_S + 3)
    finally:
        for c in conns:
            c.close()
    wait_handshakes_idle(limits_server)
    still_answers(limits_server.pg_port)


def test_cap_is_released_when_clients_leave(limits_server: Server) -> None:
    wait_handshakes_idle(limits_server)
    for _ in range(3):
        conns = [Conn(limits_server.pg_port) for _ in range(SLOW_PER_IP)]
        for c in conns:
            assert c.ssl_request() == b"S"
            c.close()
        wait_handshakes_idle(limits_server)
    with Conn(limits_server.pg_port) as conn:
        conn.secure()
        assert conn.send(startup())
        conn.expect_password_request()


# --- the fuzz property and the leak check -------------------------------------------------------

CODES = [V3_0, V3_1, V3_2, V2_0, V4_0, CANCEL_CODE, SSL_CODE, GSSENC_CODE, 0, 0x7FFFFFFF]
codes = st.one_of(st.sampled_from(CODES), st.integers(0, 2**32 - 1))
lengths = st.one_of(
    st.integers(0, 16),
    st.integers(8, MAX_STARTUP),
    st.sampled_from([MAX_STARTUP + 1, 2**31 - 1, 2**31, 2**32 - 1]),
    st.integers(0, 2**32 - 1),
)
names = st.one_of(
    st.sampled_from(["user", "database", "options", "replication", "application_name", "_pq_.x"]),
    st.text(max_size=10),
)
values = st.one_of(
    st.sampled_from(["-c=", "--x=y", "-c a=b\\ c ", "database", "api_user", "alice/mydb"]),
    st.text(max_size=20),
)


@st.composite
def param_bodies(draw: st.DrawFn) -> bytes:
    strings = draw(st.lists(st.one_of(names, values), max_size=8))
    raw = b"".join(s.encode("utf-8", "surrogatepass") + b"\0" for s in strings)
    if draw(st.booleans()):
        raw += b"\0"
    if draw(st.booleans()):
        raw += draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80"]))
    return raw


fuzz_packets = st.one_of(
    st.builds(packet, codes, st.binary(max_size=200)),  # well framed, random body
    st.builds(packet, st.sampled_from([V3_0, V3_2, V4_0]), param_bodies()),  # startup-like
    st.builds(  # lying length prefix over a short body
        lambda n, code, body: struct.pack("!II", n, code) + body,
        lengths,
        codes,
        st.binary(max_size=200),
    ),
    st.binary(min_size=1, max_size=200),  # raw garbage
    st.sampled_from([SSL_REQUEST, GSSENC_REQUEST, cancel(), startup()]),
)

FUZZ_BASELINE: dict[str, int] = {}


def fuzz_once(port: int, packets: list[bytes], one_write: bool) -> None:
    with Conn(port) as conn:
        for data in [b"".join(packets)] if one_write else packets:
            if not conn.send(data):
                break
        conn.read_until_close(0.2)
    with Conn(port) as conn:
        try:
            answer = conn.ssl_request()
        except (Closed, TimeoutError) as exc:
            raise AssertionError(f"a new SSLRequest went unanswered: {exc!r}") from None
        assert answer in (b"S", b"N"), answer


def test_fuzzed_startup_sequences_leave_the_endpoint_answering(server: Server) -> None:
    assert wait_for(lambda: endpoint_stats(server)["handshakes"] == 0, 5)
    FUZZ_BASELINE.update(endpoint_stats(server))

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(packets=st.lists(fuzz_packets, min_size=1, max_size=3), one_write=st.booleans())
    def prop(packets: list[bytes], one_write: bool) -> None:
        fuzz_once(server.pg_port, packets, one_write)

    prop()
    assert server.process is not None and server.process.poll() is None, server.log()


def test_no_connections_or_tasks_leak_after_fuzzing(server: Server) -> None:
    assert FUZZ_BASELINE, "the fuzz test did not record a baseline"
    before = FUZZ_BASELINE

    def settled() -> dict[str, int] | None:
        now = endpoint_stats(server)
        ok = (
            now["connections"] == before["connections"]
            and now["handshakes"] == before["handshakes"]
            and now["tasks"] <= before["tasks"] + 2
        )
        return None if not ok else now

    assert wait_for(settled, 3, 0.2), f"before {before}, after {endpoint_stats(server)}"
