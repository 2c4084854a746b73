"""The one place HTTP error bodies are made, in bit.io's shapes (contract §2.5).

401 ``{"detail", "uuid"}``; 400/403/404/409 and the rest ``{"status_code", "error_id",
"message", "help", "error": {"type", "code", ...}}``; 422 FastAPI's ``{"detail": [...]}``.
``status_for_sqlstate`` is the only SQLSTATE -> HTTP mapping.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bitdotio.errors import BitError

__all__ = ["error_body", "install_handlers", "render", "status_for_sqlstate"]

log = logging.getLogger("bitdotio.server")

_HTTP_CODES = {400: "BIT109", 404: "BIT100", 405: "BIT108"}


def status_for_sqlstate(sqlstate: str | None) -> int:
    """HTTP status for a failed user statement (style.md practice 3)."""
    if not sqlstate:
        return 400
    if sqlstate == "42501":
        return 403
    if sqlstate == "23505":
        return 409
    if sqlstate in ("57014", "25P03"):
        return 504
    if sqlstate.startswith(("08", "53", "57P")):
        return 503
    return 400


def error_body(error: BitError, error_id: str) -> dict[str, Any]:
    if error.http_status == 401:
        return {"detail": error.public_message(), "uuid": error_id}
    inner: dict[str, Any] = {"type": error.kind, "code": error.code}
    if error.sqlstate:
        inner["sqlstate"] = error.sqlstate
    inner.update(error.details)
    return {
        "status_code": error.http_status,
        "error_id": error_id,
        "message": error.public_message(),
        "help": "",
        "error": inner,
    }


def render(error: BitError) -> JSONResponse:
    error_id = str(uuid.uuid4())
    # 501 (a feature this release lacks) is expected; other 5xx are the platform's fault.
    level = logging.ERROR if error.http_status >= 500 and error.http_status != 501 else logging.INFO
    log.log(
        level, "%s %s error_id=%s status=%s", error.code, error.kind, error_id, error.http_status
    )
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return JSONResponse(error_body(error, error_id), status_code=error.http_status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 items without ``input`` (it may echo secrets) or ``url``."""
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(BitError)
    async def _bit_error(request: Request, exc: BitError) -> JSONResponse:
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BitError):
            # FastAPI wraps any failure while reading a body (our size cap) in a plain 400.
            return render(exc.__cause__)
        code = _HTTP_CODES.get(exc.status_code)
        if code is None:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return render(BitError(code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = str(uuid.uuid4())
        log.exception(
            "unexpected error error_id=%s on %s %s", error_id, request.method, request.url.path
        )
        return JSONResponse(error_body(BitError("BIT001"), error_id), status_code=500)
