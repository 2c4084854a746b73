"""The wire codec: pure functions, so every malformed input is checked here without a socket."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitdotio.proxy import codec
from bitdotio.proxy.codec import (
    CancelRequest,
    MessageReader,
    ProtocolError,
    SpecialRequest,
    Startup,
    UnsupportedProtocol,
)


def startup_body(version: int, params: dict[str, str]) -> bytes:
    pairs = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
    return struct.pack("!i", version) + pairs + b"\0"


@pytest.mark.parametrize("length", [0, 3, 4, 7, 10_001, 2**31 - 1, -1, -(2**31)])
def test_startup_length_out_of_bounds(length: int) -> None:
    with pytest.raises(ProtocolError, match="invalid length of startup packet"):
        codec.startup_length(struct.pack("!i", length))


@pytest.mark.parametrize("length", [8, 9, 10_000])
def test_startup_length_in_bounds(length: int) -> None:
    assert codec.startup_length(struct.pack("!i", length)) == length


def test_startup_message() -> None:
    packet = codec.parse_startup(startup_body(196608, {"user": "api_user", "database": "a/b"}))
    assert packet == Startup(0, {"user": "api_user", "database": "a/b"}, ())


def test_startup_with_no_parameters() -> None:
    assert codec.parse_startup(startup_body(196608, {})) == Startup(0, {}, ())


def test_newer_minor_version_keeps_protocol_options_apart() -> None:
    packet = codec.parse_startup(startup_body(196610, {"user": "u", "_pq_.foo": "1"}))
    assert packet == Startup(2, {"user": "u"}, ("_pq_.foo",))


@pytest.mark.parametrize("version", [131072, 262144, 0, 0x7FFFFFFF])
def test_other_major_versions_are_unsupported(version: int) -> None:
    with pytest.raises(UnsupportedProtocol, match="unsupported frontend protocol"):
        codec.parse_startup(startup_body(version, {}))


@pytest.mark.parametrize(
    "tail",
    [
        b"user\0x\0",  # no final terminator
        b"user\0x\0database\0",  # odd number of strings
        b"user\0x",  # no NUL at all after the value
        b"\0x\0\0",  # empty name
        b"user\0\xff\xfe\0\0",  # invalid UTF-8
        b"user\0a\0user\0b\0\0",  # duplicate
    ],
)
def test_malformed_parameter_lists(tail: bytes) -> None:
    with pytest.raises(ProtocolError):
        codec.parse_startup(struct.pack("!i", 196608) + tail)


def test_too_many_parameters() -> None:
    params = {f"p{i}": "v" for i in range(codec.MAX_PARAMETERS + 1)}
    with pytest.raises(ProtocolError, match="too many parameters"):
        codec.parse_startup(startup_body(196608, params))


def test_encryption_requests() -> None:
    assert codec.parse_startup(struct.pack("!i", codec.SSL_REQUEST_CODE)) == SpecialRequest(
        codec.SSL_REQUEST_CODE
    )
    assert codec.parse_startup(struct.pack("!i", codec.GSSENC_REQUEST_CODE)) == SpecialRequest(
        codec.GSSENC_REQUEST_CODE
    )
    with pytest.raises(ProtocolError):
        codec.parse_startup(struct.pack("!ii", codec.SSL_REQUEST_CODE, 0))


def test_cancel_request() -> None:
    body = struct.pack("!ii", codec.CANCEL_REQUEST_CODE, 1234) + b"abcd"
    assert codec.parse_startup(body) == CancelRequest(1234, b"abcd")


@pytest.mark.parametrize("key_length", [0, 3, 257])
def test_cancel_request_key_lengths(key_length: int) -> None:
    body = struct.pack("!ii", codec.CANCEL_REQUEST_CODE, 1) + b"k" * key_length
    with pytest.raises(ProtocolError):
        codec.parse_startup(body)


def test_password() -> None:
    assert codec.parse_password(b"v2_abc\0") == "v2_abc"
    assert codec.parse_password(b"\0") == ""
    for bad in (b"v2_abc", b"v2\0abc\0", b"\xff\0"):
        with pytest.raises(ProtocolError):
            codec.parse_password(bad)


def test_message_reader_reassembles_split_messages() -> None:
    stream = b"S\0\0\0\x08ab\0\0" + b"Z\0\0\0\x05I"
    reader = MessageReader(1024)
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == [(b"S", b"ab\0\0"), (b"Z", b"I")]
    assert reader.rest() == b""


@pytest.mark.parametrize("length", [0, 3, 1025, 2**31 - 1, -1])
def test_message_reader_rejects_lengths_before_buffering(length: int) -> None:
    with pytest.raises(ProtocolError, match="invalid message length"):
        MessageReader(1024).feed(b"D" + struct.pack("!i", length))


def test_error_response_round_trip() -> None:
    message = codec.error_response("28P01", 'password authentication failed for user "x"')
    assert message[:1] == b"E"
    assert struct.unpack("!i", message[1:5])[0] == len(message) - 1
    fields = codec.parse_error_fields(message[5:])
    assert fields == codec.ErrorFields(
        "FATAL", "28P01", 'password authentication failed for user "x"'
    )


def test_error_fields_tolerate_missing_sqlstate() -> None:
    assert codec.parse_error_fields(b"SERROR\0Moops\0\0") == codec.ErrorFields("ERROR", "", "oops")
    assert codec.parse_error_fields(b"") == codec.ErrorFields("", "", "")


def test_ready_for_query_status() -> None:
    assert codec.ready_for_query_status(b"C\0\0\0\x0bSELECT 1\0Z\0\0\0\x05I") == ord("I")
    assert codec.ready_for_query_status(b"Z\0\0\0\x05T") == ord("T")
    assert codec.ready_for_query_status(b"Z\0\0\0\x05E") == ord("E")
    assert codec.ready_for_query_status(b"Z\0\0\0\x05X") == 0
    assert codec.ready_for_query_status(b"D\0\0\0\x06\0\x01") == 0
    assert codec.ready_for_query_status(b"I") == 0


def test_messages_the_endpoint_sends() -> None:
    assert codec.auth_cleartext_password() == b"R\0\0\0\x08\0\0\0\x03"
    assert codec.auth_ok() == b"R\0\0\0\x08\0\0\0\0"
    assert codec.backend_key_data(7, b"abcd") == b"K\0\0\0\x0c\0\0\0\x07abcd"
    assert codec.terminate() == b"X\0\0\0\x04"
    assert codec.negotiate_protocol_version(0, ["_pq_.foo"]) == (
        b"v\0\0\0\x15\0\0\0\0\0\0\0\x01_pq_.foo\0"
    )
    assert codec.cancel_request(7, b"abcd") == struct.pack(
        "!iiii", 16, codec.CANCEL_REQUEST_CODE, 7, int.from_bytes(b"abcd")
    )


def test_startup_message_round_trips() -> None:
    message = codec.startup_message({"user": "u_1", "database": "db_1"})
    assert codec.startup_length(message[:4]) == len(message)
    assert codec.parse_startup(message[4:]) == Startup(0, {"user": "u_1", "database": "db_1"}, ())


@given(st.binary(max_size=300))
def test_parse_startup_never_fails_unexpectedly(body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        codec.parse_startup(struct.pack("!i", 196608) + body)


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_message_reader_never_fails_unexpectedly(chunks: list[bytes]) -> None:
    reader = MessageReader(64)
    with contextlib.suppress(ProtocolError):
        for chunk in chunks:
            reader.feed(chunk)
