"""SQLite declared types to Postgres types, and SQLite values to COPY text for those types.

SQLite is dynamically typed even outside STRICT tables: a column declared INTEGER can hold
'abc'. A converter raises ``Misfit`` for a value its type cannot hold, and the reader then
falls the whole column back to text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime

SqliteValue = int | float | str | bytes

UNTYPED = ""  # a column without a declared type: its type comes from its values


class Misfit(ValueError):
    """A value the column's mapped Postgres type cannot hold."""


def pg_type_for_declared(declared: str) -> str:
    """Map a declared type, like SQLite's affinity rules do, with a few names of our own first.

    Returns ``UNTYPED`` for a column with no declared type.
    """
    name = declared.upper()
    if not name.strip():
        return UNTYPED
    if "BOOL" in name:
        return "boolean"
    if "DATETIME" in name or "TIMESTAMP" in name:
        return "timestamp"
    if "DATE" in name:
        return "date"
    # SQLite's own affinity rules, in their order (https://sqlite.org/datatype3.html §3.1).
    if "INT" in name:
        return "bigint"
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in name:
        return "bytea"
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return "double precision"
    if "NUMERIC" in name or "DECIMAL" in name:
        return "numeric"
    return "text"


def pg_type_for_classes(classes: set[type]) -> str:
    """The type of an untyped column from the storage classes of its non-NULL values."""
    if classes == {int}:
        return "bigint"
    if classes and classes <= {int, float}:
        return "double precision"
    if classes == {bytes}:
        return "bytea"
    return "text"


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _bytea_text(value: bytes) -> str:
    return "\\x" + value.hex()


def to_text(value: SqliteValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return _bytea_text(value)
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _to_bigint(value: SqliteValue) -> str:
    if isinstance(value, int):
        return str(value)
    raise Misfit


def _to_double(value: SqliteValue) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    raise Misfit


def _to_numeric(value: SqliteValue) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and not math.isinf(value):
        return _float_text(value)
    raise Misfit


_BOOLEAN_WORDS = {"1": "true", "0": "false", "true": "true", "false": "false"}


def _to_boolean(value: SqliteValue) -> str:
    if isinstance(value, int | str):
        word = _BOOLEAN_WORDS.get(str(value).strip().lower())
        if word:
            return word
    raise Misfit


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?")


def _to_date(value: SqliteValue) -> str:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise Misfit


def _to_timestamp(value: SqliteValue) -> str:
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value).isoformat(sep=" ")
        except ValueError:
            pass
    raise Misfit


def _to_bytea(value: SqliteValue) -> str:
    if isinstance(value, bytes):
        return _bytea_text(value)
    raise Misfit


CONVERTERS: dict[str, Callable[[SqliteValue], str]] = {
    "bigint": _to_bigint,
    "double precision": _to_double,
    "numeric": _to_numeric,
    "boolean": _to_boolean,
    "date": _to_date,
    "timestamp": _to_timestamp,
    "bytea": _to_bytea,
    "text": to_text,
}
