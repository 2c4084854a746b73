"""Blocking job work runs in threads; a stopping worker tells them to give up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["until_cancelled"]

T = TypeVar("T")


async def until_cancelled(stop: threading.Event, work: Awaitable[T]) -> T:
    """Await ``work`` (a thread); if this task is cancelled (the worker is stopping), set
    ``stop`` so the thread gives up instead of holding the shutdown until it is done."""
    try:
        return await work
    except asyncio.CancelledError:
        stop.set()
        raise
