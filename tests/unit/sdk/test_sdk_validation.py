"""Token and database-name rules with 2.2.1's messages (contract §1)."""

import pytest

from bitdotio.sdk._validation import (
    validate_database_name,
    validate_new_database_name,
    validate_pool_bounds,
    validate_role,
    validate_scope,
    validate_token,
    validate_username,
)


@pytest.mark.parametrize(
    "token", ["v2_abc", "v2_abc_DEF_123", "v2_xxxxx_xxxxxxxxxxxxxxxxxxxxxxx", "v2_é"]
)
def test_valid_tokens(token: str) -> None:
    validate_token(token)


@pytest.mark.parametrize(
    "token", ["", "v2_", "v1_abc", "v2-abc", "v2_abc def", "v2_abc\n", None, 42]
)
def test_invalid_tokens(token: object) -> None:
    with pytest.raises(ValueError, match=r"^Invalid access token$"):
        validate_token(token)


@pytest.mark.parametrize(
    "name",
    [
        "alice/mydb",
        "my/db/with/some/slashes",
        "my/db/with.some+other$things",
        "a" * 38 + "/" + "b" * 23,
        "_/x",
    ],
)
def test_valid_database_names(name: str) -> None:
    validate_database_name(name)


@pytest.mark.parametrize(
    "name", ["/mydb", "mydb", "-/db", "./db", "me/", "a" * 39 + "/db", "alice/" + "b" * 24, None]
)
def test_invalid_database_names(name: object) -> None:
    with pytest.raises(ValueError, match=r"^Invalid database name$"):
        validate_database_name(name)


@pytest.mark.parametrize("name", ["", "x" * 24, "a\nb", None])
def test_invalid_new_database_names(name: object) -> None:
    with pytest.raises(ValueError, match=r"^Invalid database name$"):
        validate_new_database_name(name)


def test_new_database_name_takes_the_database_part() -> None:
    validate_new_database_name("my-db")
    validate_new_database_name("x" * 23)


@pytest.mark.parametrize(
    ("min_conn", "max_conn", "message"),
    [
        (-1, 10, "min_conn and max_conn must both be greater than or equal to zero"),
        (0, -1, "min_conn and max_conn must both be greater than or equal to zero"),
        (5, 5, "min_conn must be strictly less than max_conn"),
        (6, 5, "min_conn must be strictly less than max_conn"),
    ],
)
def test_pool_bounds(min_conn: int, max_conn: int, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_pool_bounds(min_conn, max_conn)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("role", ["ADMIN", "WRITER", "READER"])
def test_valid_roles(role: str) -> None:
    validate_role(role)


@pytest.mark.parametrize("role", ["OWNER", "reader", "", None, ["READER"]])
def test_invalid_roles(role: object) -> None:
    with pytest.raises(ValueError, match=r"^Invalid role: must be ADMIN, WRITER or READER$"):
        validate_role(role)


@pytest.mark.parametrize("username", ["", None, 7])
def test_invalid_usernames(username: object) -> None:
    with pytest.raises(ValueError, match=r"^Invalid username$"):
        validate_username(username)


def test_a_scope_takes_a_list_or_tuple() -> None:
    validate_scope(["alice/one"], "READER")
    validate_scope(("alice/one", {"name": "bob/two", "role": "WRITER"}), "READER")
    validate_scope([{"name": "bob/two", "role": "WRITER"}], None)


@pytest.mark.parametrize(
    ("databases", "role", "message"),
    [
        ("alice/one", "READER", "^databases must be a list"),
        ([], "READER", "^databases must name at least one"),
        (["alice/one"], None, "^No role for alice/one"),
        ([{"name": "alice/one"}], None, "^No role for alice/one"),
        ([{"name": "alice/one", "role": "OWNER"}], None, "^Invalid role"),
        ([{"name": "nope", "role": "READER"}], None, "^Invalid database name"),
        (["alice/one"], "OWNER", "^Invalid role"),
    ],
)
def test_bad_scopes(databases: object, role: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_scope(databases, role)
