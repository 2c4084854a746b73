"""Column and table names from what a file says: cleaned, unique and at most 63 bytes.

Decision (docs/reference/imports.md, "Column names"): a name keeps its case and characters,
because every identifier reaches Postgres quoted. Leading and trailing whitespace is trimmed
and every run of whitespace or control characters inside becomes one space. An empty name
becomes ``column_<n>`` (n is the 1-based position). A name equal to an earlier one, ignoring
case, gets ``_2``, ``_3``, ... so that names stay unique even for users who do not quote them.
Names are cut to 63 bytes (Postgres's NAMEDATALEN - 1) at a UTF-8 character boundary, before
the suffix is added so that the suffix survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["MAX_NAME_BYTES", "derived_names", "generated_names", "normalise_names"]

MAX_NAME_BYTES = 63
_BLANKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def normalise_names(raw: Sequence[str | None]) -> list[str]:
    """Clean names in order; empty or missing ones become ``column_<n>``."""
    cleaned = [_clean(name) or f"column_{position}" for position, name in enumerate(raw, 1)]
    return _unique(cleaned)


def generated_names(count: int) -> list[str]:
    """``column_1`` .. ``column_<count>``, for files without a header row."""
    return [f"column_{position}" for position in range(1, count + 1)]


def derived_names(table_name: str, parts: Iterable[str]) -> list[str]:
    """``<table_name>_<part>`` for each part (a sheet, a zip member), unique as column names."""
    return _unique([f"{table_name}_{_clean(part) or 'part'}" for part in parts])


def _clean(name: str | None) -> str:
    return _BLANKS.sub(" ", name or "").strip()


def _unique(names: Iterable[str]) -> list[str]:
    taken: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate = _truncate(name, MAX_NAME_BYTES)
        counter = 1
        while candidate.casefold() in taken:
            counter += 1
            suffix = f"_{counter}"
            candidate = _truncate(name, MAX_NAME_BYTES - len(suffix)) + suffix
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _truncate(name: str, max_bytes: int) -> str:
    encoded = name.encode()
    if len(encoded) <= max_bytes:
        return name
    return encoded[:max_bytes].decode(errors="ignore").rstrip()
