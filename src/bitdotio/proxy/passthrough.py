"""Stage 4: an authenticated client joined to its backend; bytes are copied, not parsed.

Each direction is a small ``asyncio.Protocol`` that writes what it receives to the other
transport; when one side's write buffer fills, the other side stops reading until it drains
(backpressure, security.md §3 row 16), so a slow reader never makes the endpoint buffer a
large result. The only thing looked at is whether the server's latest bytes end with a
ReadyForQuery (``codec.ready_for_query_status``): that is when the connection is at rest,
and the only moment the endpoint may add an ErrorResponse of its own before closing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from bitdotio.errors import BitError
from bitdotio.proxy import codec

__all__ = ["Link"]


class Link:
    """One client connection and its backend, from authentication to close."""

    def __init__(
        self,
        client: asyncio.Transport,
        server: asyncio.Transport,
        *,
        database_id: uuid.UUID,
        key_id: uuid.UUID,
        proxy_pid: int,
        proxy_secret: bytes,
        backend_pid: int,
        backend_secret: bytes,
        status: int,
        on_close: Callable[[Link], None],
    ) -> None:
        self.client = client
        self.server = server
        self.database_id = database_id
        self.key_id = key_id  # the API key it logged in with: revoking it closes the link
        self.proxy_pid = proxy_pid
        self.proxy_secret = proxy_secret
        self.backend_pid = backend_pid
        self.backend_secret = backend_secret
        self.started = self.last_activity = time.monotonic()
        self.rest_status = status  # ReadyForQuery status while at rest, else 0
        self.retire_by: float | None = None  # set: close at the next rest outside a transaction
        self.closed = False
        self._on_close = on_close

    def start(self, pending_from_client: bytes, pending_from_server: bytes) -> None:
        """Switch both transports to the copying protocols, handing on buffered bytes."""
        self.client.set_protocol(_ClientSide(self, self.server))
        self.server.set_protocol(_ServerSide(self, self.client))
        if pending_from_server:
            self.client.write(pending_from_server)
        if pending_from_client:
            self.rest_status = 0
            self.server.write(pending_from_client)
        self.client.resume_reading()

    def retire(self, deadline: float) -> None:
        """Close at the next ReadyForQuery outside a transaction, or at ``deadline``."""
        if self.retire_by is None or deadline < self.retire_by:
            self.retire_by = deadline
        if self.rest_status == codec.READY_IDLE:
            self.close(BitError("BIT511"))

    def close(self, error: BitError | None = None) -> None:
        """Close both sides; ``error`` reaches the client only if the stream is at rest."""
        if self.closed:
            return
        self.closed = True
        if error is not None and self.rest_status and not self.client.is_closing():
            self.client.write(codec.render_error(error))
        self.client.close()
        if not self.server.is_closing():
            self.server.write(codec.terminate())
            self.server.close()
        self._on_close(self)


class _Side(asyncio.Protocol):
    """One direction: what arrives is written to ``other``; a full ``other`` stops reading."""

    def __init__(self, link: Link, other: asyncio.Transport) -> None:
        self.link = link
        self.other = other

    def pause_writing(self) -> None:
        self.other.pause_reading()

    def resume_writing(self) -> None:
        self.other.resume_reading()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.close()


class _ClientSide(_Side):
    def data_received(self, data: bytes) -> None:
        link = self.link
        link.last_activity = time.monotonic()
        link.rest_status = 0
        self.other.write(data)


class _ServerSide(_Side):
    def data_received(self, data: bytes) -> None:
        link = self.link
        link.last_activity = time.monotonic()
        self.other.write(data)
        status = codec.ready_for_query_status(data)
        link.rest_status = status
        if status == codec.READY_IDLE and link.retire_by is not None:
            link.close(BitError("BIT511"))
