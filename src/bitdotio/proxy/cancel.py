"""Query cancellation (security.md §3 row 13).

Each client gets BackendKeyData the endpoint made up: a random process id and secret mapped to
the real backend's, which never leave the endpoint. A CancelRequest is matched by process id,
its secret compared in constant time, and on a match the real key goes to Postgres on a
fresh connection. Nothing is ever sent back, as Postgres does; misses count as failures for
the client address.
"""

from __future__ import annotations

import hmac
import secrets

from bitdotio.proxy.codec import CancelRequest
from bitdotio.proxy.passthrough import Link

__all__ = ["CancelKeys"]


class CancelKeys:
    def __init__(self) -> None:
        self._links: dict[int, Link] = {}

    def issue(self) -> tuple[int, bytes]:
        """A fresh (process id, secret) for a client's BackendKeyData."""
        while True:
            pid = secrets.randbelow(2**31 - 2) + 1
            if pid not in self._links:
                return pid, secrets.token_bytes(4)

    def register(self, link: Link) -> None:
        self._links[link.proxy_pid] = link

    def forget(self, link: Link) -> None:
        if self._links.get(link.proxy_pid) is link:
            del self._links[link.proxy_pid]

    def match(self, request: CancelRequest) -> Link | None:
        link = self._links.get(request.pid)
        if link is None or not hmac.compare_digest(link.proxy_secret, request.secret):
            return None
        return link
