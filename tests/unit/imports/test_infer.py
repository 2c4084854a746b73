"""Type inference: which Postgres type a column of strings gets, and its COPY text."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitdotio.imports.infer import TypeTracker, update_frame, value_type


def infer(values: list[str | None], batch: int = 0) -> TypeTracker:
    tracker = TypeTracker()
    series = pl.Series("v", values, dtype=pl.String)
    if batch:
        for start in range(0, len(values), batch):
            tracker.update(series.slice(start, batch))
    else:
        tracker.update(series)
    return tracker


@pytest.mark.parametrize(
    ("values", "pg_type"),
    [
        ([None, ""], "text"),
        (["1", "-2", "+3", "0"], "integer"),
        (["1", "2147483648"], "bigint"),
        (["1", "9223372036854775808"], "numeric"),
        (["007", "12"], "text"),
        (["-0", "-01"], "text"),
        (["1.5", "2", ".5", "5."], "numeric"),
        (["007.5"], "text"),
        (["1e5", "2"], "double precision"),
        (["inf", "-Infinity", "NaN", "1.5"], "double precision"),
        (["1e400"], "text"),
        (["1e-400"], "text"),
        (["0e-400", "0.0"], "double precision"),
        (["yes", "No", "T", "f", "Y", "n", "TRUE", "False"], "boolean"),
        (["1", "0"], "integer"),
        (["on", "off"], "text"),
        (["yes", "1"], "text"),
        (["2024-01-05", "2024-02-29"], "date"),
        (["2023-02-29"], "text"),
        (["0000-01-01"], "text"),
        (["2024-1-5"], "text"),
        (["2024/1/5", "2024/12/31"], "date"),
        (["5.1.2024", "31.12.2024"], "date"),
        (["01/05/2024", "12/31/2024"], "date"),
        (["13/05/2024", "01/05/2024"], "date"),
        (["13/13/2024"], "text"),
        (["2024-01-05", "05.01.2024"], "text"),
        (["2024-01-05T10:00", "2024-01-05 10:00:00.5", "2024-01-05"], "timestamp"),
        (["2024-01-05T10:00Z", "2024-01-05 10:00:00+05:30", "2024-01-05 10:00-08"], "timestamptz"),
        (["2024-01-05T10:00Z", "2024-01-05T10:00"], "text"),
        (["2024-01-05T10:00Z", "2024-01-05"], "text"),
        (["2024-01-05T24:00"], "text"),
        (['{"a": 1}', "[1, 2]", " {}"], "jsonb"),
        (['{"a": NaN}'], "text"),
        (['{"a": "\\u0000"}'], "text"),
        (["{not json}"], "text"),
        (["1", "abc"], "text"),
    ],
)
def test_column_type(values: list[str | None], pg_type: str) -> None:
    assert infer(values).pg_type == pg_type
    assert infer(values, batch=1).pg_type == pg_type  # batch by batch gives the same answer


@pytest.mark.parametrize(
    ("values", "canonical"),
    [
        (["05.01.2024", "", None], ["2024-01-05", None, None]),
        (["1/5/2024", "12/31/2024"], ["2024-01-05", "2024-12-31"]),
        (["13/5/2024", "1/2/2024"], ["2024-05-13", "2024-02-01"]),
        (["2024/1/5"], ["2024-01-05"]),
        (["1", ""], ["1", None]),
        (["a", ""], ["a", None]),
    ],
)
def test_conversion_to_copy_text(values: list[str | None], canonical: list[str | None]) -> None:
    tracker = infer(values)
    assert tracker.convert(pl.Series("v", values, dtype=pl.String)).to_list() == canonical


def test_needs_conversion_only_for_non_iso_dates() -> None:
    assert infer(["05.01.2024"]).needs_conversion
    assert not infer(["2024-01-05", "1"]).needs_conversion
    assert not infer(["1", "2"]).needs_conversion


def test_accepts_says_whether_a_value_keeps_the_type() -> None:
    tracker = infer(["1", "2"])
    assert tracker.accepts("3")
    assert tracker.accepts("1.5")  # widens to numeric, still not text
    assert not tracker.accepts("id")


def test_value_type() -> None:
    assert value_type("12") == "integer"
    assert value_type("name") == "text"


def test_update_frame_feeds_each_column() -> None:
    trackers = [TypeTracker(), TypeTracker()]
    frame = pl.DataFrame({"a": ["1", "2"], "b": ["x", "2024-01-01"]})
    update_frame(trackers, frame)
    update_frame(trackers, pl.DataFrame({"a": ["3.5"], "b": ["y"]}))
    assert [t.pg_type for t in trackers] == ["numeric", "text"]


@pytest.mark.parametrize("value", ["+5", "-0", " 1", "1 ", "1_000", "0x10", "1e3", "١"])
def test_polars_int_cast_takes_no_more_than_the_integer_pattern(value: str) -> None:
    """The cheap integer check relies on polars casting exactly [+-]?[0-9]+."""
    cast = pl.Series([value]).cast(pl.Int64, strict=False)[0]
    assert (cast is not None) == (value.lstrip("+-").isascii() and value.lstrip("+-").isdigit())


@pytest.mark.parametrize("later", [" 2024-1-01", "+001-01-01", "2024-1-01 ", "2024/01/01"])
def test_a_date_column_meets_a_value_that_only_looks_like_a_date(later: str) -> None:
    """The whole-file check must decide as the sample's classification would: not ISO → text,
    wherever in the file the value sits."""
    tracker = TypeTracker()
    tracker.update(pl.Series(["2024-01-01", "2024-02-29"]))
    assert tracker.pg_type == "date"
    tracker.update(pl.Series(["2024-03-01", later]))
    alone = TypeTracker()
    alone.update(pl.Series(["2024-01-01", later]))
    assert tracker.pg_type == alone.pg_type


_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "007",
            "-0",
            "+1",
            "12",
            "2147483648",
            "-2147483649",
            "9223372036854775808",
            "1.5",
            ".5",
            "1.",
            "1e5",
            "-2.5E-3",
            "inf",
            "NaN",
            "1e400",
            "true",
            "FALSE",
            "t",
            "yes",
            "N",
            "on",
            "2024-01-05",
            "2024-02-30",
            " 2024-1-01",
            "+001-01-01",
            "2024/1/5",
            "5.1.2024",
            "01/13/2024",
            "13/01/2024",
            "2024-01-05T10:30",
            "2024-01-05 10:30:00.5",
            "2024-01-05T10:30Z",
            "2024-01-05 10:30+02:00",
            '{"a": 1}',
            "[1, 2]",
            "[",
            "x",
        ]
    ),
    st.text(alphabet="0123456789-+.:/eETZ ", max_size=12),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_VALUES, min_size=1, max_size=8), st.data())
def test_the_type_does_not_depend_on_where_values_sit(
    values: list[str], data: st.DataObject
) -> None:
    """Batch by batch (the whole-file check after the sample) or all at once: one answer."""
    split = data.draw(st.integers(min_value=0, max_value=len(values)))
    batched = TypeTracker()
    batched.update(pl.Series(values[:split], dtype=pl.String))
    batched.update(pl.Series(values[split:], dtype=pl.String))
    whole = TypeTracker()
    whole.update(pl.Series(values, dtype=pl.String))
    assert batched.pg_type == whole.pg_type, (values, split)
