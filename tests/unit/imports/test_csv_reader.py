"""CSV and TSV: dialects, encodings, header detection, caps and the COPY payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bitdotio.imports.csv_reader import read_csv
from bitdotio.imports.source import ImportFailure, ImportLimits, InferHeader, TableSource
from bitdotio.imports.utf8_file import record_end


def table(
    tmp_path: Path,
    content: bytes | str,
    infer_header: InferHeader = "auto",
    limits: ImportLimits | None = None,
) -> TableSource:
    path = tmp_path / "upload.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    parsed = read_csv(
        path, table_name="t", infer_header=infer_header, limits=limits or ImportLimits()
    )
    assert parsed.format == "csv" and len(parsed.tables) == 1
    return parsed.tables[0]


def columns(source: TableSource) -> list[tuple[str, str]]:
    return [(c.name, c.pg_type) for c in source.columns]


def payload(source: TableSource) -> bytes:
    return b"".join(source.batches())


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("id,name\n1,a\n2,b\n", ["id", "name"]),  # text above a typed column
        ("1,a\n2,b\n", ["column_1", "column_2"]),  # the first row fits the types
        (",a\n1,b\n", ["column_1", "a"]),  # an empty cell above a typed column (pandas index)
        ("city,country\nParis,France\n", ["city", "country"]),  # all text, distinct
        ("Paris,France\nLyon,France\n", ["Paris", "France"]),  # all text: looks like a header
        ("Paris,Paris\nLyon,France\n", ["column_1", "column_2"]),  # duplicates: data
        ("city,\nParis,France\n", ["column_1", "column_2"]),  # all text with an empty cell
        ("2023,name\nab,cd\n", ["column_1", "column_2"]),  # all text, a number on top
        ("a,b,c\n", ["a", "b", "c"]),  # a single row of words is a header
        ("1,2,3\n", ["column_1", "column_2", "column_3"]),  # a single row of numbers is data
    ],
)
def test_auto_header(tmp_path: Path, content: str, names: list[str]) -> None:
    assert [c.name for c in table(tmp_path, content).columns] == names


def test_header_modes(tmp_path: Path) -> None:
    content = "1,2\n3,4\n"
    assert columns(table(tmp_path, content, "first_row")) == [("1", "integer"), ("2", "integer")]
    no_header = table(tmp_path, "a,b\n1,2\n", "no_header")
    assert columns(no_header) == [("column_1", "text"), ("column_2", "text")]
    assert payload(no_header) == b"a,b\n1,2\n" and no_header.row_count == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a;b\n1;x,y\n2;z\n", b'1,"x,y"\n2,z\n'),
        ("a\tb\n1\tx\n", b"1,x\n"),
        ("a|b\n1|x\n", b"1,x\n"),
        ("a,b\n1,x\n", b"1,x\n"),
    ],
)
def test_delimiters(tmp_path: Path, content: str, expected: bytes) -> None:
    source = table(tmp_path, content)
    assert [c.name for c in source.columns] == ["a", "b"]
    assert payload(source) == expected


def test_stray_quotes_inside_unquoted_fields(tmp_path: Path) -> None:
    source = table(tmp_path, 'size,item\n12",pizza\n9",pie\n')
    assert columns(source) == [("size", "text"), ("item", "text")]
    assert payload(source) == b'"12""",pizza\n"9""",pie\n'


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfname,n\ncaf\xc3\xa9,1\n",
        "name,n\ncafé,1\n".encode("utf-16"),
        "name,n\ncafé,1\n".encode("utf-16-be").join([b"\xfe\xff", b""]),
        "name,n\ncafé,1\n".encode("cp1252"),
    ],
)
def test_encodings(tmp_path: Path, content: bytes) -> None:
    source = table(tmp_path, content)
    assert columns(source) == [("name", "text"), ("n", "integer")]
    assert payload(source) == "café,1\n".encode()


def test_invalid_utf8_after_the_head_falls_back_to_cp1252(tmp_path: Path) -> None:
    rows = "".join(f"{i},plain\n" for i in range(20_000))
    source = table(tmp_path, ("n,word\n" + rows).encode() + "99,déjà\n".encode("cp1252"))
    assert payload(source).endswith("99,déjà\n".encode())


def test_undefined_cp1252_byte_is_an_encoding_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as failure:
        table(tmp_path, b"a,b\n\x81,\xff\n")
    assert failure.value.error_type == "EncodingError"


def test_payload_of_a_canonical_file_is_its_bytes(tmp_path: Path) -> None:
    body = "".join(f"{i},name {i},2024-01-{i % 28 + 1:02d},{i}.5,true\n" for i in range(5000))
    source = table(tmp_path, "id,name,day,x,flag\n" + body)
    assert [c.pg_type for c in source.columns] == [
        "integer",
        "text",
        "date",
        "numeric",
        "boolean",
    ]
    chunks = list(source.batches())
    assert b"".join(chunks) == body.encode()
    assert all(chunk.endswith(b"\n") for chunk in chunks)


def test_empty_cells_quoted_or_not_are_null(tmp_path: Path) -> None:
    source = table(tmp_path, 'a,b,c\n1,"",x\n2,,""\n3\n')
    assert columns(source) == [("a", "integer"), ("b", "text"), ("c", "text")]
    assert payload(source) == b"1,,x\n2,,\n3,,\n"


def test_crlf_and_quoted_newlines(tmp_path: Path) -> None:
    source = table(tmp_path, 'id,note\r\n1,"a\r\nb"\r\n2,"say ""hi"""\r\n')
    assert payload(source) == b'1,"a\r\nb"\r\n2,"say ""hi"""\r\n'
    assert source.row_origin(2) == {"line": 4}


def test_row_origin_after_a_header_on_two_lines(tmp_path: Path) -> None:
    source = table(tmp_path, 'id,"long\nname"\n1,x\n2,y\n', "first_row")
    assert source.row_origin(2) == {"line": 4}


def test_row_origin_without_header(tmp_path: Path) -> None:
    source = table(tmp_path, "1,x\n2,y\n3,z\n", "no_header")
    assert source.row_origin(3) == {"line": 3}


def test_single_column_end_of_data_marker_is_quoted(tmp_path: Path) -> None:
    source = table(tmp_path, "v\na\n\\.\nb\n")
    assert payload(source) == b'"a"\n"\\."\n"b"\n'


def test_dates_are_rewritten_to_iso(tmp_path: Path) -> None:
    source = table(tmp_path, "d,n\n05.01.2024,1\n31.12.2023,2\n")
    assert columns(source) == [("d", "date"), ("n", "integer")]
    assert payload(source) == b"2024-01-05,1\n2023-12-31,2\n"


@pytest.mark.parametrize(
    ("content", "limits", "error_type", "details"),
    [
        ("a,b\n1,2\n3,4,5\n", ImportLimits(), "InvalidValue", {"line": 3, "fields": 3}),
        ("a,b,c\n1,2,3\n", ImportLimits(max_columns=2), "TooManyColumns", {"columns": 3}),
        ("a\n" + "x" * 100 + "\n", ImportLimits(max_field_bytes=10), "TooLarge", {}),
    ],
)
def test_failures(
    tmp_path: Path, content: str, limits: ImportLimits, error_type: str, details: dict[str, Any]
) -> None:
    with pytest.raises(ImportFailure) as failure:
        table(tmp_path, content, limits=limits)
    assert failure.value.error_type == error_type
    assert details.items() <= failure.value.details.items()


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b"a,b\n1,2\n3", 8),
        (b'a,"b\n', 0),
        (b'a,"b\nc"\nd,"e\n', 8),
        (b"no newline", 0),
    ],
)
def test_record_end(data: bytes, end: int) -> None:
    assert record_end(data, b'"') == end


def test_a_value_far_past_the_sample_still_decides_the_type(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i}.5,2024-01-01\n" for i in range(40_000))  # over 256 KiB
    source = table(tmp_path, "n,x,d\n" + rows + "abc,1e5,01.02.2024\n")
    assert columns(source) == [("n", "text"), ("x", "double precision"), ("d", "text")]
