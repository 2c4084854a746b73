"""Large CSV files for the import benchmarks: ints, decimals, floats, text, dates, booleans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["write_csv"]

_ROWS_PER_BLOCK = 200_000


def write_csv(path: Path, size_bytes: int, *, seed: int = 1) -> int:
    """Write a CSV with a header and at least ``size_bytes`` bytes to ``path``; return its rows."""
    rng = np.random.default_rng(seed)
    rows = 0
    with path.open("wb") as out:
        out.write(b"id,amount,ratio,name,day,active\n")
        while out.tell() < size_bytes:
            block = _block(rng, start=rows)
            block.write_csv(out, include_header=False)
            rows += block.height
    return rows


def _block(rng: np.random.Generator, *, start: int) -> pl.DataFrame:
    n = _ROWS_PER_BLOCK
    days = np.datetime64("2000-01-01") + rng.integers(0, 9000, n).astype("timedelta64[D]")
    words = np.array(["alpha", "bravo", "charlie delta", "echo", "foxtrot golf hotel"])
    return pl.DataFrame(
        {
            "id": np.arange(start + 1, start + n + 1, dtype=np.int64),
            "amount": (rng.integers(0, 10_000_000, n) / 100).round(2).astype(str),
            "ratio": rng.random(n) * 1e6,
            "name": words[rng.integers(0, len(words), n)],
            "day": days,
            "active": rng.integers(0, 2, n).astype(bool),
        }
    )
