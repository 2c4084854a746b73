"""Column type inference over every value of a column, and its canonical COPY text.

Public API (stable; readers of text-like formats share it):

* ``TypeTracker``: one per column. Feed it every value of the column, batch by batch, as a
  polars ``String`` Series (``update``); nulls and empty strings are NULL and never decide the
  type. Then ``pg_type`` is the Postgres type that fits every value, and ``expression`` /
  ``convert`` turn the raw strings into text Postgres reads for that type whatever the
  session's DateStyle (empty → NULL). ``needs_conversion`` is False when that rewrite changes
  nothing but empty strings, so a reader may stream the raw bytes.
* ``update_frame(trackers, frame)``: ``update`` for every column of a batch at once, checking
  the columns in parallel (tracker *i* takes column *i*).
* ``TypeTracker.accepts(value)``: whether one more value would keep the column's type
  non-text (header detection).
* ``value_type(value)``: the type a single value alone would get.

The rules (docs/reference/imports.md, "Type inference") in short: boolean (true/false, t/f,
yes/no, y/n), integer (int32), bigint (int64), numeric (plain decimals, integers beyond int64),
double precision (any exponent, inf, nan), date (``YYYY-MM-DD``, ``YYYY/MM/DD``,
``DD.MM.YYYY``, ``NN/NN/YYYY``: month first unless some value is only valid day first), timestamp
and timestamptz (ISO 8601), jsonb (every value a JSON object or array), else text. A column
mixing kinds is text, except integer < bigint < numeric < double precision and date <
timestamp (ISO dates only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum

import polars as pl

__all__ = ["TypeTracker", "update_frame", "value_type"]


class _Kind(Enum):
    EMPTY = "empty"  # no value seen yet: an all-NULL column is text
    BOOLEAN = "boolean"
    INTEGER = "integer"
    BIGINT = "bigint"
    NUMERIC = "numeric"
    FLOAT = "double precision"
    DATE_ISO = "date"
    DATE_YMD_SLASH = "date:YYYY/MM/DD"
    DATE_DMY_DOT = "date:DD.MM.YYYY"
    DATE_NN_SLASH = "date:NN/NN/YYYY"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    JSONB = "jsonb"
    TEXT = "text"

    @property
    def pg_type(self) -> str:
        return "text" if self is _Kind.EMPTY else self.value.partition(":")[0]


_NUMERIC_ORDER = (_Kind.INTEGER, _Kind.BIGINT, _Kind.NUMERIC, _Kind.FLOAT)

_INT_RE = r"^[+-]?(?:0|[1-9][0-9]*)$"
_DECIMAL_RE = r"^[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)$"
_NUMBER_RE = (
    r"^[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
    r"|^(?i:nan|[+-]?inf(?:inity)?)$"
)
_FLOAT_MARK_RE = r"[eEnN]"  # an exponent, inf or nan
_COMMON_BOOLEANS = [
    f(word)
    for word in ("true", "false", "t", "f", "yes", "no", "y", "n")
    for f in (str.lower, str.upper, str.capitalize)
]
_BOOL_RE = r"^(?i:true|false|t|f|yes|no|y|n)$"
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001..9999
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::(?:[0-5][0-9]|60)(?:\.[0-9]{1,6})?)?"
_ZONE = r"(?:Z|[+-](?:0[0-9]|1[0-5])(?::[0-5][0-9])?)"
_ISO_TEMPORAL_RE = rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}(?:[T ]{_TIME}{_ZONE}?)?$"
_ZONED_RE = rf"[T ].*{_ZONE}$"
_YMD_SLASH_RE = rf"^({_YEAR})/([0-9]{{1,2}})/([0-9]{{1,2}})$"
_DMY_DOT_RE = rf"^([0-9]{{1,2}})\.([0-9]{{1,2}})\.({_YEAR})$"
_NN_SLASH_RE = rf"^([0-9]{{1,2}})/([0-9]{{1,2}})/({_YEAR})$"
_JSON_START_RE = r"^\s*[\[{]"
_ISO_DATE_SHAPE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class _State:
    kind: _Kind
    # DATE_NN_SLASH only: whether every value so far is a valid date month first / day first.
    mdy_ok: bool = True
    dmy_ok: bool = True


_EMPTY = _State(_Kind.EMPTY)
_TEXT = _State(_Kind.TEXT)


class TypeTracker:
    """Infers one column's Postgres type from all its values, then converts them for COPY."""

    def __init__(self) -> None:
        self._state = _EMPTY

    def update(self, values: pl.Series) -> None:
        """Take the next batch of the column's values (a polars String Series)."""
        update_frame([self], values.to_frame())

    def _classify(self, values: pl.Series) -> None:
        present = _present(values)
        if present.len():
            self._state = _join(self._state, _classify(present, self._state.kind))

    @property
    def pg_type(self) -> str:
        return _final_kind(self._state).pg_type

    @property
    def pg_type_is_open(self) -> bool:
        """False once the column is text: no value can change it any more."""
        return self._state.kind is not _Kind.TEXT

    @property
    def needs_conversion(self) -> bool:
        """Whether ``convert`` rewrites any non-empty value (dates not in ISO form)."""
        return _final_kind(self._state) in {
            _Kind.DATE_YMD_SLASH,
            _Kind.DATE_DMY_DOT,
            _Kind.DATE_NN_SLASH,
        }

    def accepts(self, value: str) -> bool:
        """Whether the column would keep a non-text type if ``value`` were one more value."""
        if value == "":
            return self.pg_type != "text"
        single = _classify(pl.Series([value], dtype=pl.String), self._state.kind)
        return _final_kind(_join(self._state, single)).pg_type != "text"

    def unchanged_expression(self, column: pl.Expr) -> pl.Expr:
        """A boolean aggregate: true when a batch of ``column`` cannot change the type.

        It may be false for a batch that would not change it (a quoted empty string, say);
        ``update`` then classifies that batch in full, which is exact but slower.
        """
        return _unchanged(self._state.kind, column)

    def expression(self, column: pl.Expr) -> pl.Expr:
        """The polars expression turning raw strings into COPY text for ``pg_type``."""
        kind = _final_kind(self._state)
        present = pl.when(column != "").then(column)  # "" and null → null
        if kind is _Kind.DATE_YMD_SLASH:
            return _iso_date(present, _YMD_SLASH_RE, year=1, month=2, day=3)
        if kind is _Kind.DATE_DMY_DOT:
            return _iso_date(present, _DMY_DOT_RE, year=3, month=2, day=1)
        if kind is _Kind.DATE_NN_SLASH:
            if self._state.mdy_ok:
                return _iso_date(present, _NN_SLASH_RE, year=3, month=1, day=2)
            return _iso_date(present, _NN_SLASH_RE, year=3, month=2, day=1)
        return present

    def convert(self, values: pl.Series) -> pl.Series:
        """``values`` rewritten by ``expression`` (same name and length)."""
        return values.to_frame().select(self.expression(pl.col(values.name))).to_series()


def update_frame(trackers: Sequence[TypeTracker], frame: pl.DataFrame) -> None:
    """Feed column *i* of ``frame`` to ``trackers[i]``.

    A cheap check that a batch keeps each column's current type runs for all columns in one
    parallel polars query; only columns that fail it (or have no type yet) are classified.
    """
    checks = [
        tracker.unchanged_expression(pl.col(name)).alias(name)
        for tracker, name in zip(trackers, frame.columns, strict=True)
        if tracker.pg_type_is_open
    ]
    if not checks:
        return
    unchanged = frame.select(checks).row(0, named=True)
    for tracker, name in zip(trackers, frame.columns, strict=True):
        if unchanged.get(name) is False:
            tracker._classify(frame[name])


def _unchanged(kind: _Kind, column: pl.Expr) -> pl.Expr:
    if kind in (_Kind.INTEGER, _Kind.BIGINT):
        ints = column.cast(pl.Int64, strict=False)  # takes exactly [+-]?[0-9]+ (tested)
        check = (ints.null_count() == column.null_count()) & ~column.str.contains(
            "^[+-]?0[0-9]"
        ).any()
        if kind is _Kind.INTEGER:
            check = check & (ints.min() >= _INT32_MIN) & (ints.max() <= _INT32_MAX)
        return check.fill_null(True)
    if kind is _Kind.NUMERIC:
        return column.str.contains(_DECIMAL_RE).all()
    if kind is _Kind.BOOLEAN:
        return column.is_in(_COMMON_BOOLEANS).all()
    if kind is _Kind.DATE_ISO:
        dates = column.str.to_date("%Y-%m-%d", strict=False, cache=False)
        all_dates = (dates.null_count() == column.null_count()) & (dates.min() >= date(1, 1, 1))
        # to_date also takes " 2024-1-01" and "+001-01-01": the shape must be ISO's too.
        shaped = column.str.contains(_ISO_DATE_SHAPE_RE).all()
        return (all_dates & shaped).fill_null(True)
    if kind is _Kind.TEXT:
        return pl.lit(True)
    if kind is _Kind.EMPTY:
        return (column.is_null() | (column == "")).all()
    return pl.lit(False)  # kinds without a cheap check: classify the batch


def value_type(value: str) -> str:
    """The Postgres type a column holding only ``value`` would get."""
    tracker = TypeTracker()
    tracker.update(pl.Series([value], dtype=pl.String))
    return tracker.pg_type


def _present(values: pl.Series) -> pl.Series:
    return values.filter(values.is_not_null() & (values != ""))


def _final_kind(state: _State) -> _Kind:
    if state.kind is _Kind.DATE_NN_SLASH and not (state.mdy_ok or state.dmy_ok):
        return _Kind.TEXT
    return state.kind


def _join(left: _State, right: _State) -> _State:
    if left.kind is _Kind.EMPTY:
        return right
    if left.kind is right.kind:
        return replace(
            left, mdy_ok=left.mdy_ok and right.mdy_ok, dmy_ok=left.dmy_ok and right.dmy_ok
        )
    if left.kind in _NUMERIC_ORDER and right.kind in _NUMERIC_ORDER:
        return _State(max(left.kind, right.kind, key=_NUMERIC_ORDER.index))
    if {left.kind, right.kind} == {_Kind.DATE_ISO, _Kind.TIMESTAMP}:
        return _State(_Kind.TIMESTAMP)
    return _TEXT


def _classify(values: pl.Series, hint: _Kind) -> _State:
    """The state of a batch of present values; the hint's family is tried first."""
    families = [_numeric, _boolean, _temporal, _jsonb]
    families.sort(key=lambda family: family is not _FAMILY_OF.get(hint))
    for family in families:
        state = family(values)
        if state is not None:
            return state
    return _TEXT


def _numeric(values: pl.Series) -> _State | None:
    if not values.str.contains(_NUMBER_RE).all():
        return None
    if values.str.contains(_INT_RE).all():
        ints = values.cast(pl.Int64, strict=False)
        if ints.null_count():
            return _State(_Kind.NUMERIC)  # beyond int64
        low, high = ints.min(), ints.max()
        assert isinstance(low, int) and isinstance(high, int)
        in_int32 = low >= _INT32_MIN and high <= _INT32_MAX
        return _State(_Kind.INTEGER if in_int32 else _Kind.BIGINT)
    if not values.str.contains(_FLOAT_MARK_RE).any():
        return _State(_Kind.NUMERIC)
    return _State(_Kind.FLOAT) if _fit_double(values) else None


def _fit_double(values: pl.Series) -> bool:
    """Whether Postgres's float8in takes every value: no overflow, no underflow to zero."""
    finite = values.filter(~values.str.contains("(?i)[in]"))  # inf and nan are fine
    floats = finite.cast(pl.Float64, strict=False)
    if floats.is_infinite().any():
        return False
    mantissa = finite.str.replace(r"[eE].*$", "")
    return not ((floats == 0.0) & mantissa.str.contains("[1-9]")).any()


def _boolean(values: pl.Series) -> _State | None:
    return _State(_Kind.BOOLEAN) if values.str.contains(_BOOL_RE).all() else None


def _temporal(values: pl.Series) -> _State | None:
    if values.str.contains(_ISO_TEMPORAL_RE).all():
        return _iso_temporal(values)
    for pattern, kind, order in (
        (_YMD_SLASH_RE, _Kind.DATE_YMD_SLASH, (1, 2, 3)),
        (_DMY_DOT_RE, _Kind.DATE_DMY_DOT, (3, 2, 1)),
    ):
        if values.str.contains(pattern).all():
            return _State(kind) if _valid_dates(values, pattern, *order) else None
    if values.str.contains(_NN_SLASH_RE).all():
        mdy_ok = _valid_dates(values, _NN_SLASH_RE, 3, 1, 2)
        dmy_ok = _valid_dates(values, _NN_SLASH_RE, 3, 2, 1)
        return _State(_Kind.DATE_NN_SLASH, mdy_ok, dmy_ok) if mdy_ok or dmy_ok else None
    return None


def _iso_temporal(values: pl.Series) -> _State | None:
    if values.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).null_count():
        return None  # e.g. 2023-02-30
    zoned = int(values.str.contains(_ZONED_RE).sum())
    if zoned == values.len():
        return _State(_Kind.TIMESTAMPTZ)
    if zoned:
        return None  # naive and zoned values mixed: text
    has_time = bool((values.str.len_bytes() > 10).any())
    return _State(_Kind.TIMESTAMP if has_time else _Kind.DATE_ISO)


def _valid_dates(values: pl.Series, pattern: str, year: int, month: int, day: int) -> bool:
    frame = values.to_frame("value")
    iso = frame.select(_iso_date(pl.col("value"), pattern, year=year, month=month, day=day))
    return not iso.to_series().str.to_date("%Y-%m-%d", strict=False).null_count()


def _iso_date(column: pl.Expr, pattern: str, *, year: int, month: int, day: int) -> pl.Expr:
    return pl.concat_str(
        column.str.extract(pattern, year),
        column.str.extract(pattern, month).str.zfill(2),
        column.str.extract(pattern, day).str.zfill(2),
        separator="-",
    )


def _jsonb(values: pl.Series) -> _State | None:
    if not values.str.contains(_JSON_START_RE).all():
        return None
    return _State(_Kind.JSONB) if all(map(_is_jsonb_text, values)) else None


def _is_jsonb_text(text: str) -> bool:
    """Whether Postgres's jsonb input takes ``text``: strict JSON with no NUL escapes."""
    if "\\u0000" in text:
        return False
    try:
        json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False
    return True


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_FAMILY_OF = {
    _Kind.BOOLEAN: _boolean,
    **{kind: _numeric for kind in _NUMERIC_ORDER},
    **{
        kind: _temporal
        for kind in (
            _Kind.DATE_ISO,
            _Kind.DATE_YMD_SLASH,
            _Kind.DATE_DMY_DOT,
            _Kind.DATE_NN_SLASH,
            _Kind.TIMESTAMP,
            _Kind.TIMESTAMPTZ,
        )
    },
    _Kind.JSONB: _jsonb,
}
