"""Column names a result may repeat, made unique for shapes keyed by name (standard library)."""

from __future__ import annotations

__all__ = ["dedupe"]


def dedupe(names: list[str]) -> list[str]:
    """Decision: a repeated column name gets ``_2``, ``_3``... so no value is lost."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out
