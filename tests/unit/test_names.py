"""Name rules and owner/name parsing (docs/reference/api.md "Names")."""

from __future__ import annotations

import pytest

from bitdotio.catalog.names import FullName, check_database_name, parse_full_name
from bitdotio.errors import BitError


@pytest.mark.parametrize("name", ["a", "my-db", "My_DB_2", "_x", "x" * 23])
def test_valid_database_names(name: str) -> None:
    assert check_database_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a.b", "x" * 24, "é", "a b", "a\x00"])
def test_invalid_database_names(name: str) -> None:
    with pytest.raises(BitError) as info:
        check_database_name(name)
    assert info.value.code == "BIT101"


def test_parse_slash_and_dot_forms() -> None:
    assert parse_full_name("Alice/MyDb") == FullName("alice", "MyDb")
    assert parse_full_name("alice.mydb") == FullName("alice", "mydb")
    for bad in ("mydb", "/mydb", "alice/", "alice/a/b", "alice/a.b", "al ice/x"):
        assert parse_full_name(bad) is None, bad
