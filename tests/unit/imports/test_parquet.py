"""The Parquet reader: Arrow type mapping, COPY quoting, footer checks and streaming."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bitdotio.imports import parquet
from bitdotio.imports.parquet import pg_type_for, read_parquet
from bitdotio.imports.source import ImportFailure, ImportLimits

DATA = Path(__file__).resolve().parents[2] / "data" / "imports"
LIMITS = ImportLimits()


def read_all(path: Path, limits: ImportLimits = LIMITS) -> bytes:
    table = read_parquet(path, table_name="t", limits=limits).tables[0]
    return b"".join(table.batches())


def test_pyarrow_is_past_cve_2023_47248() -> None:
    major, minor, patch = (int(part) for part in pa.__version__.split(".")[:3])
    assert (major, minor, patch) >= (14, 0, 1)


def test_type_zoo_columns() -> None:
    parsed = read_parquet(DATA / "types.parquet", table_name="types", limits=LIMITS)
    expected = json.loads((DATA / "expected.json").read_text())["types.parquet"]
    assert parsed.format == "parquet"
    assert [t.name for t in parsed.tables] == ["types"]
    columns = [[c.name, c.pg_type] for c in parsed.tables[0].columns]
    assert columns == expected["tables"]["types"]["columns"]
    assert parsed.tables[0].row_count == 3


def test_null_is_unquoted_and_empty_text_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "q.parquet"
    pq.write_table(pa.table({"s": ["", None, 'a"b'], "n": [1, None, 3]}), path)
    assert read_all(path) == b'"",1\n,\n"a""b",3\n'


@pytest.mark.parametrize(
    ("arrow_type", "pg_type"),
    [
        (pa.int8(), "smallint"),
        (pa.uint8(), "smallint"),
        (pa.uint16(), "integer"),
        (pa.uint32(), "bigint"),
        (pa.uint64(), "numeric"),
        (pa.float16(), "real"),
        (pa.decimal256(40, 5), "numeric"),
        (pa.large_binary(), "bytea"),
        (pa.binary(4), "bytea"),
        (pa.date64(), "date"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.timestamp("s", tz="UTC"), "timestamptz"),
        (pa.time32("s"), "time"),
        (pa.duration("ns"), "interval"),
        (pa.large_list(pa.string()), "jsonb"),
        (pa.struct([("a", pa.int8())]), "jsonb"),
        (pa.map_(pa.string(), pa.string()), "jsonb"),
        (pa.dictionary(pa.int8(), pa.int64()), "bigint"),
        (pa.null(), "text"),
    ],
)
def test_arrow_types(arrow_type: pa.DataType, pg_type: str) -> None:
    assert pg_type_for(arrow_type) == pg_type


def test_nested_values_are_json(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    nested = pa.array(
        [{"when": None, "tags": ["a"]}],
        pa.struct([("when", pa.date32()), ("tags", pa.list_(pa.string()))]),
    )
    pq.write_table(pa.table({"x": nested}), path)
    assert read_all(path) == b'"{""when"": null, ""tags"": [""a""]}"\n'


def test_map_with_duplicate_keys_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    maps = pa.array([[("k", 1), ("k", 2)]], pa.map_(pa.string(), pa.int64()))
    pq.write_table(pa.table({"m": maps}), path)
    with pytest.raises(ImportFailure) as failure:
        read_all(path)
    assert failure.value.error_type == "InvalidValue"


def test_column_limit_is_checked_from_the_footer() -> None:
    with pytest.raises(ImportFailure) as failure:
        read_parquet(DATA / "types.parquet", table_name="t", limits=ImportLimits(max_columns=5))
    assert failure.value.error_type == "TooManyColumns"


def test_row_group_size_is_checked_from_the_footer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "MAX_ROW_GROUP_BYTES", 100)
    with pytest.raises(ImportFailure) as failure:
        read_parquet(DATA / "types.parquet", table_name="t", limits=LIMITS)
    assert (failure.value.error_type, failure.value.details) == ("TooLarge", {"row_group": 0})


def test_field_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"s": ["x" * 100]}), path)
    with pytest.raises(ImportFailure) as failure:
        read_all(path, ImportLimits(max_field_bytes=50))
    assert failure.value.error_type == "TooLarge"


@pytest.mark.parametrize("cut", [0, 100, -20])
def test_corrupt_files(tmp_path: Path, cut: int) -> None:
    data = (DATA / "types.parquet").read_bytes()
    path = tmp_path / "c.parquet"
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut] + b"PAR1")
    with pytest.raises(ImportFailure) as failure:
        read_all(path)
    assert failure.value.error_type == "CorruptFile"


def test_streams_row_aligned_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    rows = 300_000
    table = pa.table({"n": pa.array(range(rows), pa.int64()), "s": ["abcdefgh"] * rows})
    pq.write_table(table, path, row_group_size=100_000)
    source = read_parquet(path, table_name="t", limits=LIMITS).tables[0]
    chunks = list(source.batches())
    assert len(chunks) > 3
    assert all(c.endswith(b"\n") and len(c) < 2 * 1024**2 for c in chunks)
    assert sum(c.count(b"\n") for c in chunks) == source.row_count == rows
