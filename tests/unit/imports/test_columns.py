"""Column and table names: cleaned, unique ignoring case, at most 63 bytes."""

from __future__ import annotations

from bitdotio.imports.columns import derived_names, generated_names, normalise_names


def test_whitespace_and_controls_collapse_case_and_characters_stay() -> None:
    assert normalise_names(["  Sales\t\nrep ", "Größe (m²)", "a\x00b"]) == [
        "Sales rep",
        "Größe (m²)",
        "a b",
    ]


def test_empty_names_take_their_position() -> None:
    assert normalise_names(["a", "", None, "  "]) == ["a", "column_2", "column_3", "column_4"]


def test_duplicates_are_numbered_ignoring_case() -> None:
    assert normalise_names(["name", "Name", "name", "name_2"]) == [
        "name",
        "Name_2",
        "name_3",
        "name_2_2",
    ]


def test_long_names_are_cut_at_a_character_boundary_and_stay_unique() -> None:
    long = "é" * 40  # 80 bytes
    first, second = normalise_names([long, long])
    assert len(first.encode()) <= 63 and first == "é" * 31
    assert len(second.encode()) <= 63 and second.endswith("_2") and second != first


def test_generated_and_derived_names() -> None:
    assert generated_names(3) == ["column_1", "column_2", "column_3"]
    assert derived_names("sales", ["Q1", "q1", " "]) == ["sales_Q1", "sales_q1_2", "sales_part"]
