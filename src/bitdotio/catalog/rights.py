"""The access decision: what a principal may do with a database, and as which Postgres group.

One function, ``decide``, serves the HTTP API, the Postgres endpoint and the job workers
(issue: "the same decision function"). Its inputs are what the catalog knows: the principal's
grant on the database (OWNER, ADMIN, WRITER, READER or none), whether the database is public,
and the caps a key or service account puts on it. Postgres then enforces the outcome: every
tenant session runs as one of the database's group roles (``<db>_owner``, ``<db>_write``,
``<db>_read``), chosen here, so our checks and Postgres's agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ACTIONS", "ROLES", "Decision", "cap", "decide", "group_role"]

Role = Literal["OWNER", "ADMIN", "WRITER", "READER"]
Action = Literal["read", "write", "update", "manage", "delete"]
ROLES: tuple[Role, ...] = ("READER", "WRITER", "ADMIN", "OWNER")  # weakest first
# What each role may do (contract §2.6; "manage" = collaborators, owner and admin)
ACTIONS: dict[Action, Role] = {
    "read": "READER",
    "write": "WRITER",
    "update": "ADMIN",
    "manage": "ADMIN",
    "delete": "OWNER",
}
_GROUP_KIND = {"OWNER": "owner", "ADMIN": "owner", "WRITER": "write", "READER": "read"}


def cap(role: Role | None, limit: Role | None) -> Role | None:
    """The weaker of two roles; ``limit`` None means no limit."""
    if role is None or limit is None:
        return role
    return role if ROLES.index(role) <= ROLES.index(limit) else limit


def group_role(physical_name: str, role: Role) -> str:
    """The Postgres group a session with ``role`` runs as."""
    return f"{physical_name}_{_GROUP_KIND[role]}"


@dataclass(frozen=True)
class Decision:
    role: Role  # the principal's effective role on the database

    def allows(self, action: Action) -> bool:
        return ROLES.index(self.role) >= ROLES.index(ACTIONS[action])

    def group(self, physical_name: str) -> str:
        return group_role(physical_name, self.role)


def decide(
    grant: str | None,
    *,
    is_private: bool,
    read_only: bool = False,
    scope: str | None = None,
    service_account: bool = False,
) -> Decision | None:
    """The principal's effective role, or None if it may not even see the database.

    ``grant``: its own role on the database (for a service account: its creator's).
    ``scope``: a service account's role on the database (None: outside its scope).
    A public database gives READER to everyone (Decision: contract §2.4 suggests READER); a
    service account still sees nothing outside its scope. A read-only key caps at READER.
    """
    role: Role | None = grant if grant in ROLES else None
    if role is None and not is_private:
        role = "READER"
    if service_account:
        role = cap(role, scope) if scope in ROLES else None
    if read_only:
        role = cap(role, "READER")
    return Decision(role) if role is not None else None
