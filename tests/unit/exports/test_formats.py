"""Export file names, the Arrow type of each Postgres column, and the XML parser openpyxl uses."""

from __future__ import annotations

import openpyxl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitdotio.exports.formats import FORMATS, default_file_name, safe_file_name
from bitdotio.exports.parquet_writer import arrow_type
from bitdotio.exports.source import Column


def test_openpyxl_parses_xml_through_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("out.csv", "out.csv"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", ""),
        ("a\\b:c*d?.csv", "a_b_c_d_.csv"),
        ("line\nbreak\x00.json", "line_break_.json"),
        ("  .hidden ", "hidden"),
        ("Zoë 🚀.xlsx", "Zoë 🚀.xlsx"),
        ('say "hi".csv', "say _hi_.csv"),
    ],
)
def test_file_names_are_made_safe(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_long_names_keep_their_extension() -> None:
    name = safe_file_name("é" * 300 + ".parquet")
    assert len(name.encode()) <= 255 and name.endswith(".parquet")


@given(st.text())
def test_any_name_becomes_a_plain_file_name(name: str) -> None:
    safe = safe_file_name(name)
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in safe)
    assert len(safe.encode()) <= 255


@pytest.mark.parametrize(
    ("export_format", "table", "expected"),
    [
        ("csv", None, "query.csv"),
        ("xls", "city", "city.xlsx"),
        ("parquet", "a/b", "a_b.parquet"),
        ("json", "..", "query.json"),
    ],
)
def test_default_file_names(export_format: str, table: str | None, expected: str) -> None:
    assert default_file_name(export_format, table) == expected
    assert export_format in FORMATS


def _column(
    type_name: str, typmod: int = -1, category: str = "N", element: str | None = None
) -> Column:
    return Column("c", type_name, category, typmod, element)


def _numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (_column("int8"), pa.int64()),
        (_column("float4"), pa.float32()),
        (_column("timestamptz", category="D"), pa.timestamp("us", tz="UTC")),
        (_column("numeric", _numeric_typmod(12, 2)), pa.decimal128(12, 2)),
        (_column("numeric", _numeric_typmod(60, 10)), pa.decimal256(60, 10)),
        (_column("numeric", _numeric_typmod(1000, 0)), None),
        (_column("numeric"), None),
        (_column("_int4", category="A", element="int4"), pa.list_(pa.int32())),
        (_column("_text", category="A", element="text"), pa.list_(pa.string())),
        (_column("_inet", category="A", element="inet"), None),
        (_column("jsonb", category="U"), None),
        (_column("uuid", category="U"), None),
    ],
)
def test_arrow_types(column: Column, expected: pa.DataType | None) -> None:
    assert arrow_type(column) == expected


def test_numeric_precision_with_a_negative_scale() -> None:
    assert _column("numeric", _numeric_typmod(5, -3)).numeric_precision() == (5, -3)
