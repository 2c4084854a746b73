"""Stage 1: from the first byte to the StartupMessage, TLS included (security.md §3 rows 1-9).

The client side of a connection is a ``HandshakeProtocol`` until it is authenticated: it only
buffers bytes for the session coroutine, which reads packets through ``Inbox`` and decides.
Rules kept here: every length is checked before its body is read; SSLRequest and
GSSENCRequest at most once each and never inside TLS; nothing the client sent after an
encryption request and before our answer is accepted; plaintext startup is refused because
the password is an API key; exactly one StartupMessage.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from bitdotio.proxy import codec
from bitdotio.proxy.codec import CancelRequest, ProtocolError, SpecialRequest, Startup

__all__ = ["ClientGone", "HandshakeProtocol", "Inbox", "Negotiated", "negotiate", "read_password"]

# Bytes a client may have in flight before its handshake decides; more is a violation.
_MAX_BUFFERED = codec.MAX_PASSWORD_LENGTH + 1024


class ClientGone(Exception):
    """The client closed its side during the handshake."""


class Inbox:
    """What a handshaking client has sent, read by the session coroutine as packets."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self.overflowed = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _MAX_BUFFERED:
            self.overflowed = True
        self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def take_rest(self) -> bytes:
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest

    async def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self.overflowed:
                raise ProtocolError("too much data before authentication")
            if self._eof:
                raise ClientGone
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def read_startup_packet(self) -> bytes:
        length = codec.startup_length(await self.read(4))
        return await self.read(length - 4)

    async def read_message(self, expected: bytes, max_length: int) -> bytes:
        """The body of the next typed message, which must be of type ``expected``; the type
        and the length are checked before any of the body is waited for."""
        kind = await self.read(1)
        if kind != expected:
            raise ProtocolError(f"expected password response, got message type {kind[0]}")
        length = int.from_bytes(await self.read(4), "big", signed=True)
        if not 4 <= length <= max_length:
            raise ProtocolError("invalid message length")
        return await self.read(length - 4)


class HandshakeProtocol(asyncio.Protocol):
    """The client connection until authentication: bytes go to the ``Inbox``."""

    def __init__(self, on_connect: Callable[[HandshakeProtocol], None]) -> None:
        self.inbox = Inbox()
        self.transport: asyncio.Transport | None = None
        self._on_connect = on_connect

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._on_connect(self)

    def data_received(self, data: bytes) -> None:
        self.inbox.feed(data)
        if self.inbox.overflowed and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.inbox.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.inbox.feed_eof()


@dataclass
class Negotiated:
    """What the client asked for once encryption is settled: a session or a cancel."""

    packet: Startup | CancelRequest
    tls: bool


async def negotiate(protocol: HandshakeProtocol, context: ssl.SSLContext) -> Negotiated:
    """Answer SSLRequest (``S`` + TLS) and GSSENCRequest (``N``) until the client sends a
    StartupMessage or a CancelRequest. Raises ProtocolError for the client."""
    inbox = protocol.inbox
    tls = tried_ssl = tried_gss = False
    while True:
        packet = codec.parse_startup(await inbox.read_startup_packet())
        if not isinstance(packet, SpecialRequest):
            return Negotiated(packet, tls)
        is_ssl = packet.code == codec.SSL_REQUEST_CODE
        if tls or (tried_ssl if is_ssl else tried_gss):
            raise ProtocolError("unexpected encryption request")
        if inbox.pending:  # CVE-2021-23214: never treat early bytes as encrypted
            raise ProtocolError(
                "received unencrypted data after "
                + ("SSL request" if is_ssl else "GSSAPI encryption request")
            )
        transport = protocol.transport
        assert transport is not None
        if not is_ssl:
            tried_gss = True
            transport.write(b"N")
            continue
        tried_ssl = True
        transport.pause_reading()
        transport.write(b"S")
        loop = asyncio.get_running_loop()
        new_transport = await loop.start_tls(transport, protocol, context, server_side=True)
        if new_transport is None:
            raise ClientGone
        protocol.transport = cast(asyncio.Transport, new_transport)
        tls = True


async def read_password(inbox: Inbox) -> str:
    """The PasswordMessage that must follow our AuthenticationCleartextPassword."""
    return codec.parse_password(await inbox.read_message(b"p", codec.MAX_PASSWORD_LENGTH))
