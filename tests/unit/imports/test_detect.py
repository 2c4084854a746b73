"""Format detection from content."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bitdotio.imports.detect import detect_format
from bitdotio.imports.source import ImportFailure


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (b"SQLite format 3\x00" + b"\x00" * 100, "sqlite"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xls"),
        (b"PAR1\x00\x00", "parquet"),
        (b'  \n[{"a": 1}]', "json"),
        (b'\xef\xbb\xbf{"a": 1}', "json"),
        (b"a,b\n1,2\n", "csv"),
        ("a,b\n".encode("utf-16"), "csv"),
    ],
)
def test_format_by_signature(tmp_path: Path, content: bytes, fmt: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    assert detect_format(path) == fmt


@pytest.mark.parametrize(
    ("members", "fmt"),
    [
        ({"[Content_Types].xml": "x", "xl/workbook.xml": "x"}, "xlsx"),
        ({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"}, "ods"),
        ({"mimetype": "application/vnd.oasis.opendocument.text"}, "zip"),
        ({"a.csv": "a\n1\n"}, "zip"),
    ],
)
def test_zip_family(tmp_path: Path, members: dict[str, str], fmt: str) -> None:
    path = tmp_path / "upload"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert detect_format(path) == fmt


@pytest.mark.parametrize(
    ("content", "error_type"),
    [
        (b"", "CorruptFile"),
        (b" \n\r\n", "CorruptFile"),
        (b"a,b\n\x00\x01\x02", "UnsupportedFormat"),
        (b"PK\x03\x04 not really a zip", "CorruptFile"),
    ],
)
def test_rejects(tmp_path: Path, content: bytes, error_type: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(ImportFailure) as failure:
        detect_format(path)
    assert failure.value.error_type == error_type
