"""Workbook cells: their canonical COPY text, and the Postgres type a column of them gets.

A column whose non-empty cells are all of one typed kind keeps that kind's type (numbers:
integer, bigint or numeric when all integral, else double precision). Any other column, text
cells included, is typed by ``infer.TypeTracker`` over the cells' canonical text, so that a
text cell "12" beside a number 3 still makes an integer column, and "abc" beside 3 makes text.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import polars as pl

from bitdotio.imports.infer import TypeTracker

Cell = int | float | str | bool | date | datetime | time | timedelta

_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_TRACKER_BATCH = 10_000


def cell_text(cell: Cell) -> str | None:
    """The text Postgres reads for a cell whatever the session's DateStyle; "" is NULL.

    calamine gives empty and error cells (``#DIV/0!``...) as "": both load as NULL.
    """
    if isinstance(cell, str):
        return cell or None
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, timedelta):
        seconds = Decimal(cell.days * 86400 + cell.seconds) + Decimal(cell.microseconds) / 10**6
        return f"{seconds} seconds"
    if isinstance(cell, date | time):
        return cell.isoformat()
    return str(cell)


def _kind(cell: Cell) -> str:
    if isinstance(cell, bool):
        return "boolean"
    if isinstance(cell, int) or (isinstance(cell, float) and cell.is_integer()):
        return "integral"
    for kind, cls in (
        ("float", float),
        ("timestamp", datetime),  # before date: a datetime is a date too
        ("date", date),
        ("time", time),
        ("interval", timedelta),
    ):
        if isinstance(cell, cls):
            return kind
    return "text"


class ColumnProfile:
    """Everything seen in one column, enough to pick its type and convert its cells."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self._low = 0
        self._high = 0
        self.tracker = TypeTracker()
        self._pending: list[str] = []

    def add(self, cell: Cell) -> None:
        text = cell_text(cell)
        if text is None:
            return
        kind = _kind(cell)
        if kind == "integral":
            assert isinstance(cell, int | float)
            number = int(cell)
            seen = "integral" in self.kinds
            self._low = min(self._low, number) if seen else number
            self._high = max(self._high, number) if seen else number
        self.kinds.add(kind)
        self._pending.append(text)
        if len(self._pending) >= _TRACKER_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.tracker.update(pl.Series(self._pending, dtype=pl.String))
            self._pending = []

    def accepts(self, cell: Cell) -> bool:
        """Whether the column would keep a non-text type with ``cell`` added (header check)."""
        self._flush()
        if self.uses_tracker:
            text = cell_text(cell)
            return text is not None and self.tracker.accepts(text)
        return _kind(cell) in self.kinds or ({_kind(cell)} | self.kinds <= {"integral", "float"})

    @property
    def uses_tracker(self) -> bool:
        return not self.kinds or "text" in self.kinds or self._typed_type() is None

    def _typed_type(self) -> str | None:
        if self.kinds == {"integral"}:
            if self._low in _INT32 and self._high in _INT32:
                return "integer"
            return "bigint" if self._low in _INT64 and self._high in _INT64 else "numeric"
        if self.kinds == {"integral", "float"} or self.kinds == {"float"}:
            return "double precision"
        if self.kinds == {"date", "timestamp"}:
            return "timestamp"
        if len(self.kinds) == 1 and "text" not in self.kinds:
            return next(iter(self.kinds))
        return None

    @property
    def pg_type(self) -> str:
        self._flush()
        typed = None if self.uses_tracker else self._typed_type()
        return typed or self.tracker.pg_type


def convert_column(cells: list[str | None], profile: ColumnProfile) -> list[str | None]:
    """A batch of one column's cell texts, rewritten where the tracker's type needs it."""
    if not (profile.uses_tracker and profile.tracker.needs_conversion):
        return cells
    converted = profile.tracker.convert(pl.Series("cells", cells, dtype=pl.String))
    return converted.to_list()
