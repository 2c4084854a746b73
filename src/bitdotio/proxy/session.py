"""One client connection's way in: handshake → auth → connect → passthrough.

A session is a short task that ends when the client is joined to its backend (or refused);
from then on ``passthrough.Link`` carries the bytes with no task at all. Every refusal is one
ErrorResponse worded as Postgres words it, then the connection closes; a client that breaks
the protocol or runs out of time is dropped, and nothing a client sends ends in a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from bitdotio.errors import BitError
from bitdotio.proxy import codec
from bitdotio.proxy.auth import Route, authenticate
from bitdotio.proxy.codec import CancelRequest, ProtocolError, UnsupportedProtocol
from bitdotio.proxy.connect import open_backend
from bitdotio.proxy.handshake import ClientGone, HandshakeProtocol, negotiate, read_password
from bitdotio.proxy.parameters import forwarded_parameters
from bitdotio.proxy.passthrough import Link

if TYPE_CHECKING:
    from bitdotio.proxy.endpoint import Endpoint

__all__ = ["Session"]

log = logging.getLogger("bitdotio.proxy")


class Session:
    def __init__(self, endpoint: Endpoint, protocol: HandshakeProtocol, address: str) -> None:
        self.endpoint = endpoint
        self.protocol = protocol
        self.address = address

    def _send(self, data: bytes) -> None:
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _close(self) -> None:
        if self.protocol.transport is not None:
            self.protocol.transport.close()

    def _refuse(self, error: BitError) -> None:
        self._send(codec.render_error(error))
        self._close()

    async def run(self) -> None:
        endpoint = self.endpoint
        try:
            async with asyncio.timeout(endpoint.settings.proxy_handshake_timeout_s):
                await self._handshake()
        except BitError as exc:
            self._refuse(exc)
            return
        except UnsupportedProtocol as exc:
            self._refuse(BitError("BIT507", str(exc)))
            return
        except ProtocolError as exc:
            log.debug("protocol violation from %s: %s", self.address, exc)
            self._refuse(BitError("BIT506", str(exc)))
            return
        except (TimeoutError, ClientGone, ssl.SSLError, OSError):
            self._close()
        except asyncio.CancelledError:  # the endpoint is shutting down
            self._close()
            raise
        except Exception:  # the platform's fault (the catalog is down...), never the client's
            log.exception("endpoint session from %s failed", self.address)
            self._refuse(BitError("BIT512", "the platform is unavailable; try again"))

    async def _handshake(self) -> Link | None:
        endpoint = self.endpoint
        negotiated = await negotiate(self.protocol, endpoint.tls_context)
        if isinstance(negotiated.packet, CancelRequest):
            await endpoint.cancel(negotiated.packet, self.address)
            self._close()
            return None
        startup = negotiated.packet
        if not negotiated.tls:
            raise BitError("BIT505")
        params = forwarded_parameters(startup.params)
        endpoint.throttle.check(self.address)
        if startup.minor > 0 or startup.unknown_protocol_options:
            self._send(codec.negotiate_protocol_version(0, startup.unknown_protocol_options))
        self._send(codec.auth_cleartext_password())
        password = await read_password(self.protocol.inbox)
        try:
            route = await authenticate(endpoint.cache, endpoint.catalog_pool, startup, password)
            endpoint.key_usage.seen(route.key_id)
        except BitError as exc:
            if exc.code == "BIT501":
                endpoint.throttle.record(self.address)
            raise
        return await self._connect(route, params)

    async def _connect(self, route: Route, params: dict[str, str]) -> Link:
        endpoint = self.endpoint
        endpoint.reserve(route.database_id, route.display_name)
        try:
            backend = await open_backend(endpoint.upstream, route, params)
        except BaseException:
            endpoint.unreserve(route.database_id)
            raise
        transport = self.protocol.transport
        assert transport is not None
        if transport.is_closing():
            backend.transport.abort()
            endpoint.unreserve(route.database_id)
            raise ClientGone
        proxy_pid, proxy_secret = endpoint.cancel_keys.issue()
        link = Link(
            transport,
            backend.transport,
            database_id=route.database_id,
            key_id=route.key_id,
            proxy_pid=proxy_pid,
            proxy_secret=proxy_secret,
            backend_pid=backend.pid,
            backend_secret=backend.secret,
            status=backend.status[0],
            on_close=endpoint.release,
        )
        endpoint.adopt(link)
        transport.write(
            codec.auth_ok()
            + backend.parameter_statuses
            + codec.backend_key_data(proxy_pid, proxy_secret)
            + codec.ready_for_query(backend.status)
        )
        link.start(self.protocol.inbox.take_rest(), backend.rest)
        log.debug("connected key %s to %s", route.key_id, route.display_name)
        return link
