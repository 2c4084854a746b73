"""What a reader hands the loader: tables with typed columns and their rows as COPY payload."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from bitdotio import config

__all__ = [
    "PG_TYPES",
    "Column",
    "ForeignKey",
    "ImportFailure",
    "ImportLimits",
    "Index",
    "InferHeader",
    "Parsed",
    "Skipped",
    "TableSource",
]

InferHeader = Literal["auto", "first_row", "no_header"]

# Every type a reader may give a column. Values in the COPY payload are in the form Postgres
# reads for that type whatever the session's DateStyle: ISO dates and timestamps, "true"/"false",
# plain decimal or exponent numbers, JSON text for jsonb, ``\x``-hex for bytea.
PG_TYPES = frozenset(
    {
        "boolean",
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "jsonb",
        "text",
        "bytea",
    }
)


@dataclass(frozen=True)
class Column:
    name: str  # already normalised and unique within its table (docs/reference/imports.md)
    pg_type: str  # one of PG_TYPES
    not_null: bool = False  # SQLite NOT NULL; other formats never set it


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str  # a TableSource.name of the same import
    ref_columns: tuple[str, ...]


@dataclass
class TableSource:
    """One table to create (or append to) and the rows to load into it."""

    name: str  # the final table name (the import's table_name, or derived: see the docs)
    columns: list[Column]
    # Called once per load attempt; yields the rows as COPY (FORMAT csv, HEADER false,
    # DELIMITER ',', QUOTE '"', NULL '') payload in UTF-8, in chunks of about 1 MiB, each chunk
    # ending on a row boundary. An empty string is written quoted ("") and a NULL unquoted.
    # Row i of the payload (1-based) is ``row_origin(i)`` in the file, for error messages.
    batches: Callable[[], Iterator[bytes]]
    origin: str  # where the rows come from, for messages: "the CSV file", "sheet 'Sales'"
    row_origin: Callable[[int], dict[str, Any]] = field(
        default=lambda row: {"row": row}
    )  # e.g. {"line": 12} for CSV, {"sheet": "Sales", "row": 3} for a workbook
    row_count: int | None = None  # when the reader knows it up front
    primary_key: tuple[str, ...] = ()
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    name: str
    kind: str  # "view", "trigger", "sheet", "member", ...
    reason: str


@dataclass
class Parsed:
    format: str  # "csv", "json", "xlsx", "xls", "ods", "sqlite", "parquet", "zip"
    tables: list[TableSource]
    skipped: list[Skipped] = field(default_factory=list)


def _setting(name: str) -> Any:
    """The default of setting ``import-<name>``: the registry is the one place it is written."""
    return field(default=config.default("import-" + name))


@dataclass(frozen=True)
class ImportLimits:
    """Caps a hostile file must not get past. Every field but the last two is the setting
    ``import-<field name with - for _>`` (docs/reference/configuration.md)."""

    max_columns: int = _setting("max-columns")
    max_field_bytes: int = _setting("max-field-bytes")
    max_tables: int = _setting("max-tables")
    zip_max_members: int = _setting("zip-max-members")
    zip_max_total_bytes: int = _setting("zip-max-total-bytes")  # declared, uncompressed
    zip_max_ratio: int = _setting("zip-max-ratio")  # per member, uncompressed / compressed
    sqlite_timeout_s: float = _setting("sqlite-timeout-s")  # RLIMIT_CPU of its reader
    sqlite_max_memory_bytes: int = _setting("sqlite-max-memory-bytes")  # RLIMIT_AS
    workbook_timeout_s: float = _setting("workbook-timeout-s")  # RLIMIT_CPU of its reader
    workbook_max_memory_bytes: int = _setting("workbook-max-memory-bytes")  # RLIMIT_AS
    max_json_depth: int = 64
    scratch_dir: str | None = None  # where readers may write temporary files (zip members)

    @classmethod
    def from_settings(cls, settings: config.Settings, *, scratch_dir: str) -> ImportLimits:
        names = [f.name for f in fields(cls) if f.name not in ("max_json_depth", "scratch_dir")]
        values = {name: getattr(settings, "import_" + name) for name in names}
        return cls(**values, scratch_dir=scratch_dir)


class ImportFailure(Exception):
    """An import that cannot succeed, explained for the user who sent the file.

    ``error_type`` is a stable word from docs/reference/imports.md (``UnsupportedFormat``,
    ``CorruptFile``, ``EncodingError``, ``TooLarge``, ``TooManyColumns``, ``InvalidValue``,
    ``ColumnMismatch``, ``BlockedUrl``, ``DownloadFailed``, ...); ``details`` says where:
    ``{"line": 12, "column": "age", "value": "abc"}``.
    """

    def __init__(self, error_type: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.details = details

    def as_details(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}
