"""The Postgres endpoint: the listening socket, its limits, its connections, its shutdown.

Limits, all settings with bit.io's values as defaults (contract §4.3): client connections per
database (``proxy-connection-limit``), unauthenticated connections per client address, a
handshake deadline, an idle close (in a transaction or not), a maximum lifetime and a grace
period on shutdown. Lifetime and shutdown close a connection at its next ReadyForQuery
outside a transaction, or when the grace period ends, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import uuid
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from bitdotio.catalog import keys
from bitdotio.catalog.cache import LookupCache
from bitdotio.catalog.key_usage import KeyUsage
from bitdotio.cluster.access import ClusterAccess
from bitdotio.config import Settings
from bitdotio.errors import BitError
from bitdotio.proxy.auth import FailureThrottle
from bitdotio.proxy.cancel import CancelKeys
from bitdotio.proxy.codec import READY_IDLE, CancelRequest
from bitdotio.proxy.connect import Upstream
from bitdotio.proxy.handshake import HandshakeProtocol
from bitdotio.proxy.passthrough import Link
from bitdotio.proxy.session import Session

__all__ = ["Endpoint", "listen"]

log = logging.getLogger("bitdotio.proxy")

_KEY_CHECK_S = 2.0  # a revoked or expired key's connections close within this (plus a query)

K = TypeVar("K")


def _decrement(counts: dict[K, int], key: K) -> None:
    """One fewer for ``key``; a count that reaches zero is removed, so the dict stays small."""
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def listen(host: str, port: int) -> socket.socket:
    """The endpoint's listening socket, bound before anything starts so a taken port is a
    clear startup error (BIT500), not a failure halfway through."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise BitError(
            "BIT500", f"The Postgres endpoint cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.setblocking(False)
    return sock


class Endpoint:
    def __init__(
        self,
        settings: Settings,
        access: ClusterAccess,
        cache: LookupCache,
        catalog_pool: AsyncConnectionPool,
        tls_context: ssl.SSLContext,
        key_usage: KeyUsage,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.catalog_pool = catalog_pool
        self.key_usage = key_usage
        self.upstream = Upstream.from_access(access)
        self.tls_context = tls_context
        self.throttle = FailureThrottle(settings.proxy_failed_logins_per_minute)
        self.cancel_keys = CancelKeys()
        self.links: set[Link] = set()
        self.serving = False
        self._per_database: dict[uuid.UUID, int] = {}
        self._unauthenticated: dict[str, int] = {}
        self._sessions: set[asyncio.Task[None]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._key_checker: asyncio.Task[None] | None = None

    # --- lifecycle

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_protocol, sock=sock)
        self._sweeper = asyncio.create_task(self._sweep())
        self._key_checker = asyncio.create_task(self._check_keys())
        self.serving = True

    async def close(self) -> None:
        """Stop listening; let open transactions finish for the grace period, then cut."""
        self.serving = False
        if self._server is not None:
            self._server.close()
        for task in list(self._sessions):
            task.cancel()
        deadline = time.monotonic() + self.settings.proxy_shutdown_grace_s
        for link in list(self.links):
            link.retire(deadline)
        while self.links and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for link in list(self.links):
            link.close(BitError("BIT511"))
        for background in (self._sweeper, self._key_checker):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=1)

    def stats(self) -> dict[str, Any]:
        return {
            "connections": len(self.links),
            "handshakes": len(self._sessions),
            "tasks": len(asyncio.all_tasks()),
        }

    # --- new connections

    def _new_protocol(self) -> HandshakeProtocol:
        return HandshakeProtocol(self._on_connect)

    def _on_connect(self, protocol: HandshakeProtocol) -> None:
        transport = protocol.transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else "local"
        waiting = self._unauthenticated.get(address, 0)
        if not self.serving or waiting >= self.settings.proxy_unauthenticated_per_ip:
            transport.abort()
            return
        self._unauthenticated[address] = waiting + 1
        task = asyncio.get_running_loop().create_task(Session(self, protocol, address).run())
        self._sessions.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._sessions.discard(task)
            _decrement(self._unauthenticated, address)

        task.add_done_callback(done)

    async def cancel(self, request: CancelRequest, address: str) -> None:
        try:
            self.throttle.check(address)
        except BitError:
            return
        link = self.cancel_keys.match(request)
        if link is None:
            self.throttle.record(address)
            log.info("cancel request from %s did not match any connection", address)
            return
        try:
            await self.upstream.send_cancel(link.backend_pid, link.backend_secret)
        except OSError as exc:
            log.warning("could not forward a cancel request: %s", exc.strerror)

    # --- connection accounting

    def reserve(self, database_id: uuid.UUID, display_name: str) -> None:
        count = self._per_database.get(database_id, 0)
        if count >= self.settings.proxy_connection_limit:
            raise BitError("BIT504", f'too many connections for database "{display_name}"')
        self._per_database[database_id] = count + 1

    def unreserve(self, database_id: uuid.UUID) -> None:
        _decrement(self._per_database, database_id)

    def adopt(self, link: Link) -> None:
        self.links.add(link)
        self.cancel_keys.register(link)

    def release(self, link: Link) -> None:
        if link in self.links:
            self.links.discard(link)
            self.cancel_keys.forget(link)
            self.unreserve(link.database_id)

    # --- revoked and expired keys

    async def _check_keys(self) -> None:
        """Close every connection whose API key was revoked or has expired, within
        ``_KEY_CHECK_S`` (one catalog query for all the keys in use)."""
        while True:
            await asyncio.sleep(_KEY_CHECK_S)
            in_use = {link.key_id for link in self.links}
            if not in_use:
                continue
            try:
                async with self.catalog_pool.connection() as conn:
                    invalid = await keys.invalid_among(conn, in_use)
            except psycopg.Error as exc:
                log.warning("could not check the keys in use (%s)", type(exc).__name__)
                continue
            for link in list(self.links):
                if link.key_id in invalid:
                    link.close(BitError("BIT514"))

    # --- idle, lifetime

    async def _sweep(self) -> None:
        settings = self.settings
        idle_s, lifetime_s = settings.proxy_idle_timeout_s, settings.proxy_max_lifetime_s
        interval = min(1.0, idle_s / 4, lifetime_s / 4)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for link in list(self.links):
                if link.retire_by is not None and now >= link.retire_by:
                    link.close(BitError("BIT511"))
                    continue
                if link.retire_by is None and now - link.started >= lifetime_s:
                    link.retire(now + settings.proxy_shutdown_grace_s)
                    if link.closed:
                        continue
                if link.rest_status and now - link.last_activity >= idle_s:
                    link.close(BitError("BIT509" if link.rest_status == READY_IDLE else "BIT510"))
