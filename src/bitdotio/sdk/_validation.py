"""Client-side checks that run before any I/O, with 2.2.1's exact messages (contract §1, §5.2);
the role, username and database-list checks are for the methods beyond 2.2.1."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

__all__ = [
    "ROLES",
    "Role",
    "validate_database_name",
    "validate_new_database_name",
    "validate_pool_bounds",
    "validate_role",
    "validate_scope",
    "validate_token",
    "validate_username",
]

# The roles a service account can be given (§8); a collaborator can also be made OWNER, which
# transfers the database.
Role = Literal["ADMIN", "WRITER", "READER"]
ROLES: tuple[Role, ...] = ("ADMIN", "WRITER", "READER")
CollaboratorRole = Literal["OWNER", "ADMIN", "WRITER", "READER"]
COLLABORATOR_ROLES: tuple[CollaboratorRole, ...] = ("OWNER", *ROLES)

_TOKEN = re.compile(r"^v2_\w+$")
# Owner part of at most 38 characters starting with a word character, then a 1-23 character
# database part; extra slashes and punctuation pass, as they did in 2.2.1 (contract §1).
_DATABASE_NAME = re.compile(r"^\w.{0,37}?/.{1,23}$")
# The database part alone, as create_database takes it (the same rule as above's second half).
_NEW_DATABASE_NAME = re.compile(r".{1,23}")


def validate_token(token: object) -> None:
    if not isinstance(token, str) or _TOKEN.fullmatch(token) is None:
        raise ValueError("Invalid access token")


def validate_database_name(db_name: object) -> None:
    if not isinstance(db_name, str) or _DATABASE_NAME.fullmatch(db_name) is None:
        raise ValueError("Invalid database name")


def validate_new_database_name(name: object) -> None:
    if not isinstance(name, str) or _NEW_DATABASE_NAME.fullmatch(name) is None:
        raise ValueError("Invalid database name")


def validate_pool_bounds(min_conn: int, max_conn: int) -> None:
    if min_conn < 0 or max_conn < 0:
        raise ValueError("min_conn and max_conn must both be greater than or equal to zero")
    if min_conn >= max_conn:
        raise ValueError("min_conn must be strictly less than max_conn")


def validate_role(role: object, allowed: tuple[str, ...] = ROLES) -> None:
    if role not in allowed:
        raise ValueError(f"Invalid role: must be {', '.join(allowed[:-1])} or {allowed[-1]}")


def validate_username(username: object) -> None:
    # Only what would change the URL's meaning: the server decides which usernames exist.
    if not isinstance(username, str) or not username:
        raise ValueError("Invalid username")


def validate_scope(db_names: object, role: object) -> None:
    """A non-empty list of ``owner/name`` strings or ``{"name": ..., "role": ...}`` mappings
    (a lone string is refused, not split); every database needs a role, its own or ``role``."""
    if isinstance(db_names, str) or not isinstance(db_names, Sequence):
        raise ValueError("databases must be a list of database names")
    if not db_names:
        raise ValueError("databases must name at least one database")
    if role is not None:
        validate_role(role)
    for entry in db_names:
        if isinstance(entry, Mapping):
            validate_database_name(entry.get("name"))
            own = entry.get("role")
            if own is not None:
                validate_role(own)
            elif role is None:
                raise ValueError(f"No role for {entry.get('name')}: give one, or a default")
        else:
            validate_database_name(entry)
            if role is None:
                raise ValueError(f"No role for {entry}: give one, or a default")
