"""ASGI middleware for request bodies: JSON whatever their declared type, and a size cap.

Every body except an import's form is JSON (contract §2.1), and clients declare it loosely:
curl's ``-d`` says urlencoded, a browser's CORS-free request says ``text/plain``. The header is
rewritten so FastAPI parses the JSON instead of answering 422. (Keys are Bearer tokens, never
cookies, so accepting such requests opens no CSRF hole.) A body over ``max_body_bytes`` is
answered 413 in bit.io's error shape: at once when Content-Length says so, else as soon as
the streamed bytes pass the cap.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bitdotio.errors import BitError
from bitdotio.server.errors import render

__all__ = ["RequestBodyMiddleware"]

_BODY_METHODS = ("POST", "PATCH", "PUT", "DELETE")
_FORM_PATH_SUFFIXES = ("/import", "/import/")


class RequestBodyMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_form_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes  # an import's form carries the uploaded file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = b""
        headers = []
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            if name != b"content-type":
                headers.append((name, value))
        is_form = scope["path"].endswith(_FORM_PATH_SUFFIXES)
        cap = self.max_form_bytes if is_form else self.max_body_bytes
        if declared.isdigit() and int(declared) > cap:
            code = "BIT402" if is_form else "BIT110"
            await render(BitError(code))(scope, receive, send)
            return
        if not is_form:
            headers.append((b"content-type", b"application/json"))
            scope = {**scope, "headers": headers}
        await self.app(scope, self._capped(receive, cap, "BIT402" if is_form else "BIT110"), send)

    def _capped(self, receive: Receive, cap: int, code: str) -> Receive:
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > cap:
                raise BitError(code)
            return message

        return capped_receive
