"""Hostile or random input never escapes ``read_file`` as anything but ``ImportFailure``
(security.md §5: the import sniffers are fuzz targets), and whatever it accepts yields a
payload that can be streamed to the end."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bitdotio.imports.read import read_file
from bitdotio.imports.source import ImportFailure, ImportLimits

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def outcome(data: bytes) -> str:
    """Read ``data`` as an uploaded file and stream every payload; what happened."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "upload"
        path.write_bytes(data)
        limits = ImportLimits(scratch_dir=scratch, max_field_bytes=1_000_000)
        try:
            parsed = read_file(path, table_name="t", infer_header="auto", limits=limits)
            for table in parsed.tables:
                assert table.columns
                chunks = list(table.batches())
                # Every chunk ends a row; only the file's last row may lack its line break.
                assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
        except ImportFailure as failure:
            assert failure.error_type and failure.message
            return failure.error_type
    return "ok"


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


cell = st.one_of(
    st.text(max_size=12),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["", '"', '""', "\r\n", "\\.", "2024-02-30", "01/13/2024", "true", "007"]),
)


@FUZZ
@given(
    st.lists(st.lists(cell, min_size=1, max_size=6), min_size=1, max_size=12),
    st.sampled_from([",", ";", "\t", "|"]),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
@example(rows=[[""], [""], ["", ""]], delimiter=",", newline="\n", quote=False)  # found by it
def test_csv_like_text(rows: list[list[str]], delimiter: str, newline: str, quote: bool) -> None:
    def render(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote else value

    text = newline.join(delimiter.join(render(v) for v in row) for row in rows)
    outcome(text.encode("utf-8", "surrogatepass"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(json_values)
def test_json_documents(value: object) -> None:
    outcome(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.csv", "b.json", "../x.csv", "/abs.csv", "dir/", ".hidden", "c"]),
            st.binary(max_size=300),
        ),
        max_size=4,
        unique_by=lambda member: member[0],
    )
)
def test_zip_archives(members: list[tuple[str, bytes]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    outcome(buffer.getvalue())
