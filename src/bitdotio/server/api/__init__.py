"""One module per API resource; ``route`` serves every path with and without a trailing slash,
``timestamp`` renders every date-time the API returns, ``json_body`` and ``invalid`` make
FastAPI-shaped 422s, and ``identifier`` checks a name that will become a Postgres identifier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

__all__ = ["identifier", "invalid", "json_body", "route", "timestamp"]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

_MAX_IDENTIFIER_BYTES = 63


def route(router: APIRouter, path: str, method: str, **kwargs: Any) -> Callable[[F], F]:
    """Register ``path`` and ``path/`` directly: a redirect would turn a POST into a GET and
    drop the Authorization header in ``requests`` (contract §2.1)."""

    def decorator(func: F) -> F:
        bare = path.rstrip("/")
        router.add_api_route(bare, func, methods=[method], **kwargs)
        router.add_api_route(bare + "/", func, methods=[method], include_in_schema=False, **kwargs)
        return func

    return decorator


def timestamp(
    value: datetime | None, timespec: Literal["seconds", "microseconds"] = "microseconds"
) -> str | None:
    """ISO 8601 in UTC with an explicit offset, as bit.io's shapes show them; None for null."""
    return value.astimezone(UTC).isoformat(timespec=timespec) if value else None


async def json_body(request: Request, model: type[M]) -> M:
    """The JSON body, validated; errors become FastAPI's 422 with ``body`` locations."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        raise RequestValidationError(errors) from None


def invalid(field: str, message: str, kind: str) -> RequestValidationError:
    """A 422 about one body field."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


def identifier(field: str, value: str) -> str:
    """``value`` if Postgres can take it as an identifier unchanged, else a 422."""
    if len(value.encode()) > _MAX_IDENTIFIER_BYTES or "\x00" in value:
        raise invalid(
            field, f"must be at most {_MAX_IDENTIFIER_BYTES} bytes, without NUL", "value_error"
        )
    return value
