"""How a job that failed is recorded: ``error_type``, an ``error_id`` (also in the log) and
``error_details`` with a message a user can act on; our own bugs are logged with their
traceback and told apart from the user's failures."""

from __future__ import annotations

import logging
import uuid
from typing import Any

__all__ = ["failed", "internal_error"]

log = logging.getLogger("bitdotio.jobs")


def failed(
    kind: str,
    job_id: uuid.UUID,
    error_type: str,
    details: dict[str, Any],
    error_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The catalog fields of a FAILED ``kind`` (import, export) job."""
    error_id = error_id or uuid.uuid4()
    log.info("%s %s failed: %s (error_id %s)", kind, job_id, error_type, error_id)
    return {"error_type": error_type, "error_id": error_id, "error_details": details}


def internal_error(kind: str, job_id: uuid.UUID) -> dict[str, Any]:
    """A failure of the platform itself; call from an ``except`` block (logs the traceback)."""
    error_id = uuid.uuid4()
    log.exception("%s %s failed unexpectedly (error_id %s)", kind, job_id, error_id)
    message = (
        f"The {kind} failed because of an error in the platform. "
        f"Quote error_id {error_id} when you report it."
    )
    return failed(kind, job_id, "InternalError", {"message": message}, error_id)
