"""Which format an upload is, from its first bytes (the upload's name is only the table name).

Rules, in order (docs/reference/imports.md, "Formats and detection"): the SQLite header; a zip
(``PK\\x03\\x04``) is xlsx when it has ``[Content_Types].xml`` and an ``xl/`` part, ods when its
``mimetype`` member says so, else a zip of files; the OLE2 signature is xls; ``PAR1`` is
Parquet; a first non-blank character (after a UTF-8 BOM) of ``[`` or ``{`` is JSON; anything
else is CSV, unless it holds NUL bytes without a UTF-16 byte-order mark.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from bitdotio.imports.source import ImportFailure

__all__ = ["HEAD_BYTES", "detect_format"]

HEAD_BYTES = 64 * 1024
_SQLITE = b"SQLite format 3\x00"
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0"
_PARQUET = b"PAR1"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def detect_format(path: Path) -> str:
    """One of ``csv``, ``json``, ``xlsx``, ``xls``, ``ods``, ``sqlite``, ``parquet``, ``zip``."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    if not head.strip(b" \t\r\n" + _UTF8_BOM):
        raise ImportFailure("CorruptFile", "The file is empty.")
    if head.startswith(_SQLITE):
        return "sqlite"
    if head.startswith(_ZIP):
        return _zip_kind(path)
    if head.startswith(_OLE2):
        return "xls"
    if head.startswith(_PARQUET):
        return "parquet"
    if head.startswith(_UTF16_BOMS):
        return "csv"
    text = head.removeprefix(_UTF8_BOM).lstrip()
    if text[:1] in (b"[", b"{"):
        return "json"
    if b"\x00" in head:
        raise ImportFailure(
            "UnsupportedFormat",
            "The file is not CSV, JSON, Excel, ODS, SQLite, Parquet or ZIP: it looks binary.",
        )
    return "csv"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                return "xlsx"
            if "mimetype" in names:
                with archive.open("mimetype") as member:
                    if member.read(len(_ODS_MIMETYPE)) == _ODS_MIMETYPE:
                        return "ods"
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ImportFailure("CorruptFile", f"The ZIP file cannot be read: {error}.") from error
    return "zip"
