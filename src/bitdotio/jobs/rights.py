"""A job's rights, checked when it runs: the key that started it must still work, and its
principal must still have the right (``catalog.rights.decide``, as for the API and the
Postgres endpoint). The answer is how to connect: the principal's LOGIN role acting as the
database's group for its role."""

from __future__ import annotations

import uuid

from bitdotio.catalog import databases, keys
from bitdotio.catalog.rights import Action
from bitdotio.jobs.runtime import Runtime

__all__ = ["JobDenied", "tenant_conninfo"]


class JobDenied(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


async def tenant_conninfo(
    runtime: Runtime,
    *,
    user_id: uuid.UUID,
    key_id: uuid.UUID | None,
    database_id: uuid.UUID,
    action: Action,
) -> str:
    async with runtime.catalog.connection() as conn:
        principal = await keys.principal_for_job(conn, user_id, key_id)
        if principal is None:
            raise JobDenied(
                "KeyRevoked", "The API key that started this job was revoked or has expired"
            )
        record = await databases.by_id(conn, principal, database_id)
    if record is None or record.access is None or not record.access.allows(action):
        raise JobDenied(
            "PermissionDenied",
            f"The key that started this job may no longer {action} this database",
        )
    return runtime.access.tenant(record.physical_name, principal.role_name, record.group)
