"""Query result rendering: column naming, shapes, the byte cap."""

from __future__ import annotations

import json

import pytest

from bitdotio.errors import BitError
from bitdotio.server.query.render import Renderer


def test_rows_and_objects_with_duplicate_names() -> None:
    for fmt, expected in (("rows", [[1, 2, 3]]), ("objects", [{"x": 1, "x_2": 2, "x_3": 3}])):
        renderer = Renderer(fmt, 1000)  # type: ignore[arg-type]
        renderer.set_columns(["x", "x", "x"], [23, 23, 23])
        renderer.add_rows([(1, 2, 3)])
        body = json.loads(renderer.body("q", {23: "integer"}))
        assert body == {
            "query_string": "q",
            "metadata": {"x": "integer", "x_2": "integer", "x_3": "integer"},
            "data": expected,
        }


def test_no_rows_and_no_columns() -> None:
    renderer = Renderer("rows", 1000)
    assert json.loads(renderer.body("INSERT", {})) == {
        "query_string": "INSERT",
        "metadata": {},
        "data": [],
    }


def test_cap_raises_instead_of_truncating() -> None:
    renderer = Renderer("rows", 100)
    renderer.set_columns(["t"], [25])
    with pytest.raises(BitError) as info:
        renderer.add_rows([("x" * 200,)])
    assert info.value.code == "BIT303"
