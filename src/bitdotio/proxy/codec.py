"""The Postgres wire protocol, as far as the endpoint needs it: pure functions, no I/O.

Frontend packets before authentication are length-prefixed without a type byte (startup,
SSLRequest, GSSENCRequest, CancelRequest); every other message is a type byte plus a length
that counts itself. Lengths are checked before anything is allocated (security.md §3 rows 1,
12, 15): ``MAX_STARTUP_LENGTH`` and ``MAX_PASSWORD_LENGTH`` are Postgres 15's own limits.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from bitdotio.errors import BitError

__all__ = [
    "CANCEL_REQUEST_CODE",
    "GSSENC_REQUEST_CODE",
    "MAX_PASSWORD_LENGTH",
    "MAX_STARTUP_LENGTH",
    "READY_IDLE",
    "SSL_REQUEST_CODE",
    "CancelRequest",
    "ErrorFields",
    "MessageReader",
    "ProtocolError",
    "Startup",
    "UnsupportedProtocol",
    "auth_cleartext_password",
    "auth_ok",
    "backend_key_data",
    "cancel_request",
    "error_response",
    "message",
    "negotiate_protocol_version",
    "parse_error_fields",
    "parse_password",
    "parse_startup",
    "ready_for_query",
    "ready_for_query_status",
    "render_error",
    "startup_length",
    "startup_message",
    "terminate",
]

SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
PROTOCOL_3 = 3

# ReadyForQuery status bytes: no transaction, in a transaction, in a failed transaction
READY_IDLE, READY_IN_TRANSACTION, READY_FAILED = b"ITE"

MAX_STARTUP_LENGTH = 10_000  # MAX_STARTUP_PACKET_LENGTH, pqcomm.h
MAX_PASSWORD_LENGTH = 65_535  # PG_MAX_AUTH_TOKEN_LENGTH, auth.c
MAX_PARAMETERS = 64  # startup parameters; real clients send fewer than 15

_INT32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")


class ProtocolError(ValueError):
    """The peer broke the protocol; the message is safe to show to it."""


class UnsupportedProtocol(ProtocolError):
    """A StartupMessage for a protocol major version other than 3."""


@dataclass(frozen=True)
class Startup:
    minor: int  # protocol 3.minor
    params: dict[str, str]
    unknown_protocol_options: tuple[str, ...]  # ``_pq_.*`` names, for NegotiateProtocolVersion


@dataclass(frozen=True)
class CancelRequest:
    pid: int
    secret: bytes


@dataclass(frozen=True)
class SpecialRequest:
    """SSLRequest or GSSENCRequest."""

    code: int


Packet = Startup | CancelRequest | SpecialRequest


def startup_length(header: bytes) -> int:
    """The total length a startup packet's first four bytes announce, checked first (row 1)."""
    (length,) = _INT32.unpack(header)
    if not 8 <= length <= MAX_STARTUP_LENGTH:
        raise ProtocolError("invalid length of startup packet")
    return length


def parse_startup(body: bytes) -> Packet:
    """A startup-phase packet, ``body`` being everything after the length word."""
    (code,) = _INT32.unpack_from(body)
    if code in (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE):
        if len(body) != 4:
            raise ProtocolError("invalid length of startup packet")
        return SpecialRequest(code)
    if code == CANCEL_REQUEST_CODE:
        # 3.0 keys are 4 bytes; 3.2 allows up to 256. Ours are always 4 (we speak 3.0).
        if not 4 + 4 + 4 <= len(body) <= 4 + 4 + 256:
            raise ProtocolError("invalid length of cancel request packet")
        (pid,) = _INT32.unpack_from(body, 4)
        return CancelRequest(pid, bytes(body[8:]))
    major, minor = code >> 16, code & 0xFFFF
    if major != PROTOCOL_3:
        raise UnsupportedProtocol(
            f"unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
        )
    params = _parse_parameters(body[4:])
    unknown = tuple(name for name in params if name.startswith("_pq_."))
    for name in unknown:
        del params[name]
    return Startup(minor, params, unknown)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("invalid byte sequence in startup packet") from None


def _parse_parameters(data: bytes) -> dict[str, str]:
    """NUL-terminated name/value pairs ending in an empty name (row 11: UTF-8 only)."""
    if not data.endswith(b"\x00"):
        raise ProtocolError("invalid startup packet layout: expected terminator as last byte")
    pairs = data[:-1]  # each string NUL-terminated, then one more NUL
    if pairs and not pairs.endswith(b"\x00"):
        raise ProtocolError("invalid startup packet layout: expected terminator as last byte")
    parts = pairs[:-1].split(b"\x00") if pairs else []
    if len(parts) % 2:
        raise ProtocolError("invalid startup packet layout: expected name/value pairs")
    if len(parts) // 2 > MAX_PARAMETERS:
        raise ProtocolError("too many parameters in startup packet")
    params: dict[str, str] = {}
    for i in range(0, len(parts), 2):
        name, value = _decode(parts[i]), _decode(parts[i + 1])
        if not name:
            raise ProtocolError("invalid startup packet layout: empty parameter name")
        if name in params:
            raise ProtocolError(f'duplicate startup parameter "{name}"')
        params[name] = value
    return params


def parse_password(body: bytes) -> str:
    """The body of a PasswordMessage (``p``): one NUL-terminated UTF-8 string."""
    if not body.endswith(b"\x00") or b"\x00" in body[:-1]:
        raise ProtocolError("invalid password packet")
    return _decode(body[:-1])


class MessageReader:
    """Splits a typed message stream (``type``, length, body) fed in arbitrary pieces.

    ``max_length`` caps one message before its body is buffered (rows 12, 15).
    """

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buffer += data
        messages: list[tuple[bytes, bytes]] = []
        pos = 0
        buffer = self._buffer
        while len(buffer) - pos >= 5:
            kind, length = _HEADER.unpack_from(buffer, pos)
            if not 4 <= length <= self.max_length:
                raise ProtocolError("invalid message length")
            end = pos + 1 + length
            if end > len(buffer):
                break
            messages.append((kind, bytes(buffer[pos + 5 : end])))
            pos = end
        del buffer[:pos]
        return messages

    def rest(self) -> bytes:
        """Bytes of an incomplete message, handed on when the reader is retired."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


# --- messages the endpoint sends


def message(kind: bytes, body: bytes) -> bytes:
    return kind + _INT32.pack(len(body) + 4) + body


def _cstring(value: str) -> bytes:
    return value.encode("utf-8").replace(b"\x00", b"") + b"\x00"


def error_response(sqlstate: str, text: str, severity: str = "FATAL") -> bytes:
    """An ErrorResponse (``E``) with the fields libpq shows: severity, code, message."""
    body = (
        b"S"
        + _cstring(severity)
        + b"V"
        + _cstring(severity)
        + b"C"
        + _cstring(sqlstate)
        + b"M"
        + _cstring(text)
        + b"\x00"
    )
    return message(b"E", body)


def render_error(error: BitError) -> bytes:
    """The ErrorResponse for a BIT5xx error: the only way the endpoint words a refusal."""
    assert error.sqlstate is not None, error.code
    return error_response(error.sqlstate, error.public_message())


@dataclass(frozen=True)
class ErrorFields:
    severity: str
    sqlstate: str
    message: str


def parse_error_fields(body: bytes) -> ErrorFields:
    """Severity, SQLSTATE and message of an ErrorResponse or NoticeResponse body; missing
    fields come back empty (row 15: an upstream error without SQLSTATE must not crash us)."""
    fields: dict[bytes, str] = {}
    for part in body.split(b"\x00"):
        if part:
            fields[part[:1]] = part[1:].decode("utf-8", "replace")
    return ErrorFields(
        fields.get(b"V") or fields.get(b"S", ""), fields.get(b"C", ""), fields.get(b"M", "")
    )


def auth_cleartext_password() -> bytes:
    return message(b"R", _INT32.pack(3))


def auth_ok() -> bytes:
    return message(b"R", _INT32.pack(0))


def backend_key_data(pid: int, secret: bytes) -> bytes:
    return message(b"K", _INT32.pack(pid) + secret)


def negotiate_protocol_version(minor: int, unknown_options: Iterable[str]) -> bytes:
    options = list(unknown_options)
    body = _INT32.pack(minor) + _INT32.pack(len(options)) + b"".join(map(_cstring, options))
    return message(b"v", body)


def terminate() -> bytes:
    return message(b"X", b"")


def ready_for_query(status: bytes) -> bytes:
    return message(b"Z", status)


def ready_for_query_status(data: bytes | bytearray) -> int:
    """The status byte (``I``, ``T``, ``E``) if ``data`` ends with a ReadyForQuery, else 0.

    The passthrough does not parse the stream; this looks only at the last six bytes of what
    the server sent last, which is where Postgres puts ReadyForQuery before it waits.
    """
    if len(data) >= 6 and data[-6] == 0x5A and data[-5:-1] == b"\x00\x00\x00\x05":
        status = data[-1]
        if status in (READY_IDLE, READY_IN_TRANSACTION, READY_FAILED):
            return status
    return 0


# --- messages the endpoint sends upstream


def startup_message(params: dict[str, str]) -> bytes:
    body = _INT32.pack(PROTOCOL_3 << 16)
    body += b"".join(_cstring(k) + _cstring(v) for k, v in params.items()) + b"\x00"
    return _INT32.pack(len(body) + 4) + body


def cancel_request(pid: int, secret: bytes) -> bytes:
    body = _INT32.pack(CANCEL_REQUEST_CODE) + _INT32.pack(pid) + secret
    return _INT32.pack(len(body) + 4) + body
