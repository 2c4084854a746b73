"""ASGI middleware: JSON bodies whatever their declared type.

Every body except an import's form is JSON (contract §2.1), and clients declare it loosely:
curl's ``-d`` says urlencoded, a browser's CORS-free request says ``text/plain``. The header is
rewritten so FastAPI parses the JSON instead of answering 422.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["JsonBodyMiddleware"]

_FORM_PATH_SUFFIXES = ("/import", "/import/")


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PATCH", "PUT", "DELETE"):
            path: str = scope["path"]
            if not path.endswith(_FORM_PATH_SUFFIXES):
                headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                headers.append((b"content-type", b"application/json"))
                scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
