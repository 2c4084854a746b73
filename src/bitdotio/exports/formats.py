"""Export formats and file names: what the API accepts and what the download is called."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["FORMATS", "ExportFailure", "ExportFormat", "default_file_name", "safe_file_name"]

_MAX_NAME_BYTES = 255
# Path separators, and characters some file systems or Content-Disposition parsers refuse.
_UNSAFE = re.compile(r'[/\\:*?"<>|]')


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as the API names it
    extension: str
    media_type: str


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "csv", "text/csv; charset=utf-8"),
        ExportFormat("json", "json", "application/json"),
        # Decision: "xls" is written as an Office Open XML workbook (.xlsx), the format every
        # spreadsheet program reads today; the legacy binary .xls has no maintained writer.
        ExportFormat(
            "xls", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ),
        ExportFormat("parquet", "parquet", "application/vnd.apache.parquet"),
    )
}


class ExportFailure(Exception):
    """An export that cannot be done; ``error_type`` and the message reach the user."""

    def __init__(self, error_type: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def as_details(self) -> dict[str, object]:
        return {"message": self.message, **self.details}


def default_file_name(export_format: str, table_name: str | None) -> str:
    """``<table>.<ext>`` for a table, ``query.<ext>`` for a query."""
    stem = safe_file_name(table_name or "") or "query"
    return f"{stem}.{FORMATS[export_format].extension}"


def safe_file_name(name: str) -> str:
    """``name`` as a plain file name: no path separators, control characters or leading dots,
    at most 255 bytes; empty if nothing usable is left."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        "_" if unicodedata.category(c).startswith("C") or _UNSAFE.match(c) else c for c in name
    )
    name = name.strip().lstrip(".").strip()
    encoded = name.encode()
    if len(encoded) > _MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        keep = ("." + ext) if dot and 0 < len(ext.encode()) <= 16 else ""
        room = _MAX_NAME_BYTES - len(keep.encode())
        name = (stem if keep else name).encode()[:room].decode(errors="ignore") + keep
    return name
