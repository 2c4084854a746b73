"""The access model through the ``bit`` CLI against a real ``bit serve``: collaborators,
read-only keys and service accounts (docs/reference/cli.md).

Fixtures ``server`` and ``cli_env`` come from ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

Bit = Callable[..., subprocess.CompletedProcess]


def unique_name(prefix: str) -> str:
    """A fresh name of at most 23 characters (contract §1)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bit(cli_env: dict[str, str]) -> Bit:
    def run(key: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bitdotio", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **cli_env, "BITIO_KEY": key},
            timeout=60,
        )

    return run


def json_line(completed: subprocess.CompletedProcess) -> Any:
    """The one line of JSON a command printed, in 2.2.1's format (§6.3)."""
    assert completed.returncode == 0, completed.stdout + completed.stderr
    value = json.loads(completed.stdout)
    assert completed.stdout == json.dumps(value) + "\n"
    return value


def api_error_status(completed: subprocess.CompletedProcess) -> int:
    """The status of the ``ApiError`` a command printed on stdout with exit 3 (§6.3)."""
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert completed.stdout.startswith("ApiError status_code="), completed.stdout
    return int(completed.stdout.split("=", 1)[1].split()[0])


@pytest.fixture(scope="module")
def alice(server: Any) -> tuple[str, str]:
    name = unique_name("alice")
    return name, server.create_user(name)


@pytest.fixture
def database(bit: Bit, alice: tuple[str, str]) -> Iterator[str]:
    """A fresh private database of alice's holding ``t(x) = {1}``; deleted afterwards."""
    key = alice[1]
    full_name: str = json_line(bit(key, "db", "create", "-n", unique_name("acc")))["name"]
    for sql in ("CREATE TABLE t (x integer)", "INSERT INTO t VALUES (1)"):
        json_line(bit(key, "query", "-d", full_name, "-q", sql))
    yield full_name
    bit(key, "db", "delete", "-d", full_name)


SELECT = "SELECT x FROM t ORDER BY x"
INSERT = "INSERT INTO t VALUES (2)"


def test_a_reader_collaborator_can_select_but_not_insert(
    server: Any, bit: Bit, alice: tuple[str, str], database: str
) -> None:
    alice_name, alice_key = alice
    bob_name = unique_name("bob")
    bob_key = server.create_user(bob_name)
    assert api_error_status(bit(bob_key, "query", "-d", database, "-q", SELECT)) == 404

    granted = json_line(
        bit(alice_key, "db", "collaborators", "set", "-d", database, "-u", bob_name, "-r", "READER")
    )
    assert (granted["username"], granted["role"]) == (bob_name, "READER")
    assert granted["date_granted"]
    listed = json_line(bit(alice_key, "db", "collaborators", "list", "-d", database))
    assert {(c["username"], c["role"]) for c in listed} == {
        (alice_name, "OWNER"),
        (bob_name, "READER"),
    }

    assert json_line(bit(bob_key, "query", "-d", database, "-q", SELECT))["data"] == [[1]]
    assert api_error_status(bit(bob_key, "query", "-d", database, "-q", INSERT)) == 403
    bobs = {db["name"]: db["role"] for db in json_line(bit(bob_key, "db", "list"))}
    assert bobs == {database: "READER"}
    # A reader may not manage collaborators.
    refused = bit(
        bob_key, "db", "collaborators", "set", "-d", database, "-u", bob_name, "-r", "WRITER"
    )
    assert api_error_status(refused) == 403

    removed = bit(alice_key, "db", "collaborators", "remove", "-d", database, "-u", bob_name)
    assert json_line(removed) is None
    assert api_error_status(bit(bob_key, "query", "-d", database, "-q", SELECT)) == 404
    assert json_line(bit(alice_key, "query", "-d", database, "-q", SELECT))["data"] == [[1]]


def test_a_read_only_key_cannot_insert(bit: Bit, alice: tuple[str, str], database: str) -> None:
    alice_key = alice[1]
    read_only_key = json_line(bit(alice_key, "key", "create", "--read-only"))["api_key"]
    try:
        listed = json_line(bit(alice_key, "key", "list"))
        mine = next(k for k in listed if k["prefix"] == read_only_key[:8])
        assert mine["read_only"] is True
        assert all(k["read_only"] is False for k in listed if k["current"])

        assert json_line(bit(read_only_key, "query", "-d", database, "-q", SELECT))["data"] == [[1]]
        assert api_error_status(bit(read_only_key, "query", "-d", database, "-q", INSERT)) == 403
        # Nothing was written, and the full key still writes.
        json_line(bit(alice_key, "query", "-d", database, "-q", INSERT))
        rows = json_line(bit(read_only_key, "query", "-d", database, "-q", SELECT))["data"]
        assert rows == [[1], [2]]
    finally:
        json_line(bit(alice_key, "key", "revoke", "--api-key", read_only_key))


def test_a_service_account_key_is_scoped_and_dies_with_its_account(
    bit: Bit, alice: tuple[str, str], database: str
) -> None:
    alice_key = alice[1]
    other = json_line(bit(alice_key, "db", "create", "-n", unique_name("other")))["name"]
    name = unique_name("bot")
    account = json_line(
        bit(alice_key, "service-account", "create", "-n", name, "-r", "READER", "-d", database)
    )
    assert (account["name"], account["role"]) == (name, "READER")
    assert [db["name"] for db in account["databases"]] == [database]
    assert (account["token_count"], account["active_token_count"]) == (0, 0)
    account_id = account["id"]
    listed = json_line(bit(alice_key, "service-account", "list"))
    assert account_id in [a["id"] for a in listed]

    credentials = json_line(bit(alice_key, "service-account", "create-key", account_id))
    assert credentials["username"] == name
    bot_key = credentials["api_key"]
    assert json_line(bit(alice_key, "service-account", "info", account_id))["token_count"] == 1

    assert json_line(bit(bot_key, "query", "-d", database, "-q", SELECT))["data"] == [[1]]
    assert [db["name"] for db in json_line(bit(bot_key, "db", "list"))] == [database]
    assert api_error_status(bit(bot_key, "query", "-d", database, "-q", INSERT)) == 403
    assert api_error_status(bit(bot_key, "query", "-d", other, "-q", "SELECT 1")) == 404
    # Service-account keys cannot manage service accounts (user-only, contract §8).
    assert api_error_status(bit(bot_key, "service-account", "list")) == 403

    assert json_line(bit(alice_key, "service-account", "delete", account_id)) is None
    assert api_error_status(bit(bot_key, "db", "list")) == 401
    assert api_error_status(bit(bot_key, "query", "-d", database, "-q", SELECT)) == 401
    assert api_error_status(bit(alice_key, "service-account", "info", account_id)) == 404
    assert account_id not in [a["id"] for a in json_line(bit(alice_key, "service-account", "list"))]
    bit(alice_key, "db", "delete", "-d", other)


def test_a_service_account_cannot_exceed_its_creators_role(
    server: Any, bit: Bit, alice: tuple[str, str], database: str
) -> None:
    alice_key = alice[1]
    carol_name = unique_name("carol")
    carol_key = server.create_user(carol_name)
    set_role = ("db", "collaborators", "set", "-d", database, "-u", carol_name, "-r", "READER")
    json_line(bit(alice_key, *set_role))
    create = ("service-account", "create", "-n", unique_name("bot"), "-d", database)
    assert api_error_status(bit(carol_key, *create, "-r", "WRITER")) == 403
    account = json_line(bit(carol_key, *create, "-r", "READER"))
    assert json_line(bit(carol_key, "service-account", "delete", account["id"])) is None
