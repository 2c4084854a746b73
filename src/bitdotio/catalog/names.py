"""Name rules for users and databases, and parsing of ``owner/name`` (``owner.name`` on the wire).

Decision (contract §10.12), documented in docs/reference/api.md:
- usernames: 1-38 characters, lowercase letters, digits, ``_`` and ``-``, starting with a
  letter, digit or ``_`` (the owner part of the SDKs' ``^\\w.{0,37}?/`` check);
- database names: 1-23 characters, letters, digits, ``_`` and ``-``, starting with a letter,
  digit or ``_``; no ``/`` and no ``.``, so ``owner/name`` and ``owner.name`` are unambiguous
  and no name ends in ``/import`` or ``/export``. Case is kept for display, and names are
  unique and looked up case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bitdotio.errors import BitError

__all__ = ["FullName", "check_database_name", "check_username", "parse_full_name"]

_USERNAME = re.compile(r"[a-z0-9_][a-z0-9_-]{0,37}")
_DATABASE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,22}")


@dataclass(frozen=True)
class FullName:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


def is_valid_database_name(name: str) -> bool:
    return _DATABASE.fullmatch(name) is not None


def check_database_name(name: str) -> str:
    if not is_valid_database_name(name):
        raise BitError(
            "BIT101",
            f"Invalid database name {name!r}: use 1-23 letters, digits, '_' or '-', "
            "starting with a letter, digit or '_'",
        )
    return name


def check_username(username: str) -> str:
    if _USERNAME.fullmatch(username) is None:
        raise BitError(
            "BIT106",
            f"Invalid username {username!r}: use 1-38 lowercase letters, digits, '_' or '-', "
            "starting with a letter, digit or '_'",
        )
    return username


def parse_full_name(full: str) -> FullName | None:
    """``owner/name``, or ``owner.name`` when there is no ``/``; None if it cannot name one.

    A name that breaks the rules cannot exist, so callers answer "not found", never "invalid".
    """
    owner, sep, name = full.partition("/")
    if not sep:
        owner, sep, name = full.partition(".")
    if not sep or _USERNAME.fullmatch(owner.lower()) is None or not is_valid_database_name(name):
        return None
    return FullName(owner.lower(), name)
