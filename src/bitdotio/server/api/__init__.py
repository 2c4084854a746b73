"""One module per API resource; ``route`` serves every path with and without a trailing slash,
``timestamp`` renders every date-time the API returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter

__all__ = ["route", "timestamp"]

F = TypeVar("F", bound=Callable[..., Any])


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
