"""JSON: arrays of objects, one object, NDJSON; types; caps; positions in errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bitdotio.imports.json_reader import read_json
from bitdotio.imports.source import ImportFailure, ImportLimits, TableSource


def table(tmp_path: Path, content: str, limits: ImportLimits | None = None) -> TableSource:
    path = tmp_path / "upload.json"
    path.write_text(content)
    parsed = read_json(path, table_name="t", limits=limits or ImportLimits())
    assert parsed.format == "json"
    return parsed.tables[0]


def test_types_and_payload(tmp_path: Path) -> None:
    rows = [
        {"i": 1, "f": 1, "s": "a", "b": True, "n": {"x": [1]}, "mix": 1, "big": 2**70},
        {"i": 2, "f": 2.5, "s": "", "b": False, "n": "scalar", "mix": "x", "big": 1, "new": None},
    ]
    source = table(tmp_path, json.dumps(rows))
    assert [(c.name, c.pg_type) for c in source.columns] == [
        ("i", "bigint"),
        ("f", "double precision"),
        ("s", "text"),
        ("b", "boolean"),
        ("n", "jsonb"),
        ("mix", "text"),
        ("big", "numeric"),
        ("new", "text"),
    ]
    assert b"".join(source.batches()) == (
        b'"1","1","a","true","{""x"": [1]}","1","1180591620717411303424",\n'
        b'"2","2.5","","false","""scalar""","x","1",\n'
    )


def test_ndjson_single_object_and_bom(tmp_path: Path) -> None:
    assert table(tmp_path, '{"a": 1}\n\n{"b": "x"}\n').row_count == 2
    assert table(tmp_path, '\ufeff  {"a": 1}').row_count == 1


def test_row_origin_is_the_line(tmp_path: Path) -> None:
    source = table(tmp_path, '[\n{"a": 1},\n\n{"a": 2}\n]')
    assert source.row_origin(2) == {"line": 4}


@pytest.mark.parametrize(
    ("content", "limits", "error_type", "details"),
    [
        ('[{"a": 1},\n{"a": ]', ImportLimits(), "CorruptFile", {"line": 2}),
        ('[{"a": NaN}]', ImportLimits(), "CorruptFile", {}),
        ('[{"a": 1}] x', ImportLimits(), "CorruptFile", {}),
        ("[1, 2]", ImportLimits(), "InvalidValue", {"line": 1}),
        ("[]", ImportLimits(), "CorruptFile", {}),
        ('[{"a": [[[1]]]}]', ImportLimits(max_json_depth=2), "InvalidValue", {"column": "a"}),
        ('[{"a": "x\\u0000"}]', ImportLimits(), "InvalidValue", {"column": "a"}),
        ('{"a": 1, "b": 2}', ImportLimits(max_columns=1), "TooManyColumns", {}),
    ],
)
def test_failures(
    tmp_path: Path, content: str, limits: ImportLimits, error_type: str, details: dict[str, Any]
) -> None:
    with pytest.raises(ImportFailure) as failure:
        table(tmp_path, content, limits)
    assert failure.value.error_type == error_type
    assert details.items() <= failure.value.details.items()


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "upload.json"
    path.write_bytes('[{"a": "café"}]'.encode("cp1252"))
    with pytest.raises(ImportFailure) as failure:
        read_json(path, table_name="t", limits=ImportLimits())
    assert failure.value.error_type == "EncodingError"
