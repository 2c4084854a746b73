"""Known tenant-reachable CVEs per Postgres minor release: the one table to keep current.

Raise the minimum with every security release (security.md §1.12).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Advisory", "advisories_for"]


@dataclass(frozen=True)
class Advisory:
    major: int
    fixed_in: int  # server_version_num of the first fixed release
    cve: str
    summary: str


ADVISORIES: tuple[Advisory, ...] = (
    Advisory(
        15,
        150019,
        "CVE-2026-16239",
        "type confusion in cursor CLOSE plus DECLARE lets any tenant run code as the "
        "server's OS user; fixed in 15.19",
    ),
)


def advisories_for(server_version_num: int) -> list[Advisory]:
    """The advisories that apply to a running server, by its ``server_version_num``."""
    major = server_version_num // 10000
    return [a for a in ADVISORIES if a.major == major and server_version_num < a.fixed_in]
