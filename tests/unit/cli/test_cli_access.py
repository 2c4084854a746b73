"""``bit db collaborators``, ``bit key create --read-only`` and ``bit service-account
create|delete`` without a server: the requests they send, what they print, their exit codes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.unit.sdk.conftest import RecordingAdapter

from .conftest import Invoke

KEY = "v2_abc"
API_URL = "http://api.test/v2beta"
ENV = {"BITIO_KEY": KEY, "BITIO_API_URL": API_URL}
ACCOUNT = {"id": "5d0c", "name": "bot", "role": "READER", "databases": [{"id": "d", "name": "a/b"}]}


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> RecordingAdapter:
    """Every request the CLI's SDK object sends goes to a recording adapter."""
    adapter = RecordingAdapter()
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: adapter)
    return adapter


def run(invoke: Invoke, *args: str) -> Any:
    return invoke(*args, env=ENV)


def test_collaborators_list(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(200, {"collaborators": [{"username": "alice", "role": "OWNER"}]})
    result = run(invoke, "db", "collaborators", "list", "-d", "alice/mydb")
    assert (result.exit_code, result.stdout) == (
        0,
        '[{"username": "alice", "role": "OWNER"}]\n',
    )
    assert (wire.last.method, wire.last.url) == (
        "GET",
        f"{API_URL}/db/alice/mydb/collaborators/",
    )


def test_collaborators_set(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(200, {"username": "bob", "role": "WRITER"})
    result = run(invoke, "db", "collaborators", "set", "-d", "a/db", "-u", "bob", "-r", "WRITER")
    assert (result.exit_code, result.stdout) == (0, '{"username": "bob", "role": "WRITER"}\n')
    assert (wire.last.method, wire.last.url) == ("PUT", f"{API_URL}/db/a/db/collaborators/bob")
    assert wire.bodies[-1] == b'{"role": "WRITER"}'


def test_collaborators_remove_prints_null(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(200, None)
    result = run(invoke, "db", "collaborators", "remove", "--database", "a/db", "--username", "bob")
    assert (result.exit_code, result.stdout) == (0, "null\n")
    assert (wire.last.method, wire.last.url) == ("DELETE", f"{API_URL}/db/a/db/collaborators/bob")


def test_collaborators_api_error_exits_3(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(403, {"status_code": 403, "error_id": "e"})
    result = run(invoke, "db", "collaborators", "set", "-d", "a/db", "-u", "bob", "-r", "ADMIN")
    assert (result.exit_code, result.stdout) == (
        3,
        "ApiError status_code=403 data={'status_code': 403, 'error_id': 'e'}\n",
    )


def test_collaborators_check_the_database_name(invoke: Invoke, wire: RecordingAdapter) -> None:
    result = run(invoke, "db", "collaborators", "list", "-d", "mydb")
    assert (result.exit_code, result.stdout) == (3, "Invalid database name\n")
    assert wire.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "-d", "a/b", "-u", "bob"], "Missing option '-r' / '--role'"),
        (
            ["set", "-d", "a/b", "-u", "bob", "-r", "reader"],
            "Invalid value for '-r' / '--role': 'reader' is not one of 'OWNER', 'ADMIN', "
            "'WRITER', 'READER'.",
        ),
        (["set", "-d", "a/b", "-u", "bob", "-r", "owner"], "'owner' is not one of"),
        (["remove", "-d", "a/b"], "Missing option '-u' / '--username'"),
        (["list"], "Missing option '-d' / '--database'"),
    ],
)
def test_collaborators_usage_errors(
    invoke: Invoke, wire: RecordingAdapter, args: list[str], message: str
) -> None:
    result = run(invoke, "db", "collaborators", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Usage: bit db collaborators {args[0]} [OPTIONS]\n")
    assert message in result.stderr
    assert wire.requests == []


def test_collaborators_options_read_their_environment_variables(
    invoke: Invoke, wire: RecordingAdapter
) -> None:
    env = {
        **ENV,
        "BITIO_DB_COLLABORATORS_SET_DATABASE": "a/db",
        "BITIO_DB_COLLABORATORS_SET_USERNAME": "bob",
        "BITIO_DB_COLLABORATORS_SET_ROLE": "READER",
    }
    assert invoke("db", "collaborators", "set", env=env).exit_code == 0
    assert wire.last.url == f"{API_URL}/db/a/db/collaborators/bob"
    assert wire.last_json == {"role": "READER"}


@pytest.mark.parametrize(
    ("args", "body"),
    [
        ([], b""),
        (["--read-only"], b'{"read_only": true}'),
        (["--expires-in", "60", "--read-only"], b'{"expires_in_s": 60, "read_only": true}'),
    ],
)
def test_key_create(invoke: Invoke, wire: RecordingAdapter, args: list[str], body: bytes) -> None:
    wire.reply(201, {"username": "alice", "api_key": "v2_new"})
    result = run(invoke, "key", "create", *args)
    assert (result.exit_code, result.stdout) == (
        0,
        '{"username": "alice", "api_key": "v2_new"}\n',
    )
    assert (wire.last.method, wire.last.url) == ("POST", f"{API_URL}/api-key/")
    assert wire.bodies[-1] == body


def test_service_account_create(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(201, ACCOUNT)
    result = run(
        invoke, "service-account", "create", "-n", "bot", "-r", "READER", "-d", "a/b", "-d", "a/c"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        '{"id": "5d0c", "name": "bot", "role": "READER", '
        '"databases": [{"id": "d", "name": "a/b"}]}\n'
    )
    assert (wire.last.method, wire.last.url) == ("POST", f"{API_URL}/service-account/")
    assert wire.bodies[-1] == b'{"name": "bot", "role": "READER", "databases": ["a/b", "a/c"]}'


def test_service_account_create_with_a_role_per_database(
    invoke: Invoke, wire: RecordingAdapter
) -> None:
    wire.reply(201, ACCOUNT)
    result = run(invoke, "service-account", "create", "-n", "bot", "-d", "a/b=WRITER")
    assert result.exit_code == 0, result.output
    assert wire.bodies[-1] == (b'{"name": "bot", "databases": [{"name": "a/b", "role": "WRITER"}]}')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "bot", "-r", "READER"], "Missing option '-d' / '--database'"),
        (["-n", "bot", "-d", "a/b"], "Give -r/--role, or a role for a/b (-d a/b=ROLE)"),
        (["-r", "READER", "-d", "a/b"], "Missing option '-n' / '--name'"),
        (["-n", "bot", "-r", "OWNER", "-d", "a/b"], "'OWNER' is not one of"),
    ],
)
def test_service_account_create_usage_errors(
    invoke: Invoke, wire: RecordingAdapter, args: list[str], message: str
) -> None:
    result = run(invoke, "service-account", "create", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert wire.requests == []


def test_service_account_create_checks_database_names(
    invoke: Invoke, wire: RecordingAdapter
) -> None:
    result = run(invoke, "service-account", "create", "-n", "bot", "-r", "READER", "-d", "mydb")
    assert (result.exit_code, result.stdout) == (3, "Invalid database name\n")
    assert wire.requests == []


def test_service_account_delete_prints_null(invoke: Invoke, wire: RecordingAdapter) -> None:
    wire.reply(200, None)
    result = run(invoke, "service-account", "delete", "5d0c")
    assert (result.exit_code, result.stdout) == (0, "null\n")
    assert (wire.last.method, wire.last.url) == ("DELETE", f"{API_URL}/service-account/5d0c")


def test_service_account_delete_of_an_unknown_id_exits_3(
    invoke: Invoke, wire: RecordingAdapter
) -> None:
    wire.reply(404, {"status_code": 404, "error_id": "e"})
    result = run(invoke, "service-account", "delete", "nope")
    assert result.exit_code == 3
    assert result.stdout.startswith("ApiError status_code=404 data=")


@pytest.mark.parametrize(
    "args",
    [
        ["db", "collaborators", "--help"],
        ["db", "collaborators", "set", "--help"],
        ["service-account", "create", "--help"],
        ["service-account", "delete", "--help"],
    ],
)
def test_help_needs_no_key(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: bit {' '.join(args[:-1])} [OPTIONS]")


def test_role_choices_in_the_help(invoke: Invoke) -> None:
    help_text = invoke("db", "collaborators", "set", "--help").stdout
    assert "-r, --role [OWNER|ADMIN|WRITER|READER]" in help_text
    help_text = invoke("service-account", "create", "--help").stdout
    assert "-r, --role [ADMIN|WRITER|READER]" in help_text
