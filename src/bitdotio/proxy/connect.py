"""Stage 3: a backend for the route, logged in as the caller's own role (security.md §1.5).

The endpoint reaches Postgres the way the HTTP API does (``ClusterAccess.tenant``): the
private Unix socket with trust when embedded, or the ``BITIO_DATABASE_URL`` host without a
password. The backend's startup replies are read as untrusted input (row 15), its
ParameterStatus messages are handed to the client, and its BackendKeyData is kept for
cancellation, never shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

from bitdotio.cluster.access import ClusterAccess
from bitdotio.errors import BitError
from bitdotio.proxy import codec
from bitdotio.proxy.auth import Route
from bitdotio.proxy.codec import MessageReader, ProtocolError

__all__ = ["Backend", "Upstream", "open_backend"]

_MAX_STARTUP_REPLY = 64 * 1024


@dataclass(frozen=True)
class Upstream:
    """The Postgres server: a Unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str = ""
    port: int = 5432

    @classmethod
    def from_access(cls, access: ClusterAccess) -> Upstream:
        host = access.base.get("host") or "/var/run/postgresql"
        port = int(access.base.get("port") or 5432)
        if host.startswith("/"):
            return cls(path=f"{host}/.s.PGSQL.{port}", port=port)
        return cls(host=host, port=port)

    async def open(self, protocol: asyncio.Protocol) -> asyncio.Transport:
        loop = asyncio.get_running_loop()
        if self.path is not None:
            transport, _ = await loop.create_unix_connection(lambda: protocol, self.path)
        else:
            transport, _ = await loop.create_connection(lambda: protocol, self.host, self.port)
        return cast(asyncio.Transport, transport)

    async def send_cancel(self, pid: int, secret: bytes, timeout_s: float = 5.0) -> None:
        """A CancelRequest on a fresh connection. Postgres never replies, but it closes the
        connection once the backend has been signalled; waiting for that is what lets the
        client's next query start only after the cancel landed (as it does without us)."""
        closed = _Closed()
        transport = await self.open(closed)
        transport.write(codec.cancel_request(pid, secret))
        try:
            await asyncio.wait_for(asyncio.shield(closed.done), timeout_s)
        except TimeoutError:
            pass
        finally:
            transport.close()


class _Closed(asyncio.Protocol):
    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


class _StartupReader(asyncio.Protocol):
    """The backend connection until its first ReadyForQuery."""

    def __init__(self) -> None:
        self.reader = MessageReader(_MAX_STARTUP_REPLY)
        self.messages: asyncio.Queue[tuple[bytes, bytes] | None] = asyncio.Queue()
        self.error: Exception | None = None

    def data_received(self, data: bytes) -> None:
        try:
            for message in self.reader.feed(data):
                self.messages.put_nowait(message)
        except ProtocolError as exc:
            self.error = exc
            self.messages.put_nowait(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.messages.put_nowait(None)


@dataclass
class Backend:
    transport: asyncio.Transport
    pid: int
    secret: bytes
    status: bytes  # ReadyForQuery status
    parameter_statuses: bytes  # raw ParameterStatus and NoticeResponse messages, in order
    rest: bytes = field(default=b"")  # anything the server sent after ReadyForQuery


def _refused(route: Route, body: bytes) -> BitError:
    fields = codec.parse_error_fields(body)
    message = fields.message.replace(route.physical_name, route.display_name)
    return BitError("BIT512", message or None, sqlstate=fields.sqlstate or "08006")


async def open_backend(upstream: Upstream, route: Route, params: dict[str, str]) -> Backend:
    """Log in as ``route.role_name``; BIT512 with Postgres's own SQLSTATE when it refuses."""
    protocol = _StartupReader()
    try:
        transport = await upstream.open(protocol)
    except OSError as exc:
        raise BitError("BIT512", f"could not reach the database: {exc.strerror}") from None
    try:
        startup = {
            **params,  # client settings first: identity below always wins
            "user": route.role_name,
            "database": route.physical_name,
            "role": route.group,
        }
        transport.write(codec.startup_message(startup))
        pid, secret, statuses = 0, b"", bytearray()
        while True:
            message = await protocol.messages.get()
            if message is None:
                raise BitError("BIT512")
            kind, body = message
            if kind == b"R":
                if body[:4] != b"\x00\x00\x00\x00":
                    raise BitError(
                        "BIT512",
                        "the database asked the endpoint for a password; tenant roles must be "
                        "admitted without one (see docs/reference/configuration.md)",
                    )
            elif kind in (b"S", b"N"):
                statuses += codec.message(kind, body)
            elif kind == b"K" and len(body) >= 8:
                pid, secret = int.from_bytes(body[:4], "big"), body[4:]
            elif kind == b"E":
                raise _refused(route, body)
            elif kind == b"Z" and len(body) == 1:
                rest = protocol.reader.rest()
                return Backend(transport, pid, secret, body, bytes(statuses), rest)
            else:
                raise BitError("BIT512", "the database sent an unexpected startup reply")
    except BaseException:
        transport.abort()
        raise
