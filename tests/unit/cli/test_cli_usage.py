"""Help texts, usage errors and exit codes of ``bit`` that need no server (contract §6)."""

from __future__ import annotations

import pytest

from bitdotio._version import __version__
from bitdotio.cli._options import echo_json

from .conftest import Invoke

MISSING_KEY = (
    "Usage: bit [OPTIONS] COMMAND [ARGS]...\n"
    "Try 'bit --help' for help.\n"
    "\n"
    "Error: Missing None. Your bit.io key must be set either using the -k/--key argument or as "
    "the environment variable BITIO_KEY\n"
)
KEY = "v2_abc"


def test_help_lists_the_commands(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert (
        "-k, --key TEXT  Your bit.io API key, available when you click the connect" in result.stdout
    )
    assert "-v, --version   Print bit version and exit" in result.stdout
    commands = result.stdout.split("Commands:\n", 1)[1].split()
    for name in ["db", "query", "import", "export", "key", "service-account", "serve", "admin"]:
        assert name in commands


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_version(invoke: Invoke, flag: str) -> None:
    result = invoke(flag)
    assert (result.exit_code, result.stdout) == (0, f"bit, version {__version__}\n")


def test_missing_key(invoke: Invoke) -> None:
    result = invoke("db", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", MISSING_KEY)


def test_empty_key_variable_is_an_invalid_token(invoke: Invoke) -> None:
    result = invoke("db", "list", env={"BITIO_KEY": ""})
    assert (result.exit_code, result.stdout) == (3, "Invalid access token\n")


def test_invalid_key_option(invoke: Invoke) -> None:
    result = invoke("-k", "nope", "query", "-d", "a/b", "-q", "SELECT 1")
    assert (result.exit_code, result.stdout) == (3, "Invalid access token\n")


@pytest.mark.parametrize(
    "args",
    [
        ["db", "--help"],
        ["query", "--help"],
        ["db", "create", "--help"],
        ["db", "update", "--help"],
        ["import", "--help"],
        ["key", "revoke", "--help"],
        ["service-account", "--help"],
        ["serve", "--help"],
        ["admin", "create-user", "--help"],
    ],
)
def test_subcommand_help_needs_no_key(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: bit {' '.join(args[:-1])} [OPTIONS]")


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (
            ["query"],
            [
                "-d, --database TEXT         Name of the database to query  [required]",
                "-q, --query TEXT            The SQL to run.",
                "-qf, --query_file FILENAME  A SQL file to run, containing a single query. Use",
                "-o, --objects               Return data as an array of JSON objects instead",
            ],
        ),
        (
            ["db", "create"],
            [
                "-n, --name TEXT           The database name  [required]",
                "-p, --is_private BOOLEAN  Whether or not the database is set to private",
                "[default: True]",
            ],
        ),
        (
            ["db", "update"],
            [
                "-d, --database TEXT    Name of the database to show  [required]",
                "-n, --name TEXT        New name for the database",
                "-p, --is_private TEXT  Whether or not the database is set to private",
            ],
        ),
        (["db", "info"], ["-d, --database TEXT  Name of the database to show  [required]"]),
        (["db", "delete"], ["-d, --database TEXT  Name of the database to show  [required]"]),
    ],
)
def test_2_2_1_help_texts(invoke: Invoke, args: list[str], lines: list[str]) -> None:
    result = invoke(*args, "--help")
    for line in lines:
        assert line in result.stdout


def test_db_lists_its_commands(invoke: Invoke) -> None:
    # 2.2.1's five, undescribed, and collaborators (beyond 2.2.1) with its description.
    lines = invoke("db", "--help").stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in lines] == [
        "collaborators",
        "create",
        "delete",
        "info",
        "list",
        "update",
    ]
    assert [line.strip() for line in lines[1:]] == ["create", "delete", "info", "list", "update"]


def test_bad_boolean(invoke: Invoke) -> None:
    result = invoke("-k", KEY, "db", "create", "-n", "x", "-p", "x")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '-p' / '--is_private': 'x' is not a valid boolean. "
        "Recognized values: , 0, 1, f, false, n, no, off, on, t, true, y, yes\n"
    )


def test_query_needs_a_query(invoke: Invoke) -> None:
    result = invoke("-k", KEY, "query", "-d", "alice/db")
    assert result.exit_code == 2
    assert result.stderr == (
        "Usage: bit query [OPTIONS]\n"
        "Try 'bit query --help' for help.\n"
        "\n"
        "Error: One of --query or --query_file is required\n"
    )


def test_missing_required_option(invoke: Invoke) -> None:
    result = invoke("-k", KEY, "db", "info")
    assert result.exit_code == 2
    assert "Error: Missing option '-d' / '--database'." in result.stderr


@pytest.mark.parametrize("command", ["info", "update", "delete"])
def test_database_name_is_checked_client_side(invoke: Invoke, command: str) -> None:
    result = invoke("-k", KEY, "db", command, "-d", "mydb")
    assert (result.exit_code, result.stdout) == (3, "Invalid database name\n")


def test_options_read_their_auto_environment_variable(invoke: Invoke) -> None:
    result = invoke("db", "info", env={"BITIO_KEY": KEY, "BITIO_DB_INFO_DATABASE": "mydb"})
    assert (result.exit_code, result.stdout) == (3, "Invalid database name\n")


def test_unknown_command(invoke: Invoke) -> None:
    result = invoke("nope")
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.stderr


def test_no_arguments_shows_help_as_a_usage_error(invoke: Invoke) -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Commands:" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "-d", "a/b", "-t", "t"], "Give exactly one of FILE or --url"),
        (["import", "-d", "a/b", "-t", "t", "-u", "u", "-"], "Give exactly one of FILE or --url"),
        (["export", "-d", "a/b"], "Exactly one of --query or --table is required"),
        (["export", "-d", "a/b", "-q", "q", "-t", "t"], "Exactly one of --query or --table"),
        (["export", "-d", "a/b", "-t", "t", "--format", "pdf"], "'-f' / '--format': 'pdf'"),
        (["export", "-d", "a/b", "-t", "t", "--no-wait", "-o", "x"], "drop --no-wait"),
        (["export", "-d", "a/b", "-t", "t", "--no-wait", "--force"], "drop --no-wait"),
        (["import", "-d", "a/b", "-t", "t", "-u", "u", "--header", "x"], "'--header'"),
    ],
)
def test_job_usage_errors(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("-k", KEY, *args, input="")
    assert result.exit_code == 2
    assert message in result.stderr


def test_serve_reports_settings_errors_on_stderr(invoke: Invoke) -> None:
    result = invoke("serve", "--config", "/nonexistent/bitio.toml")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: settings file /nonexistent/bitio.toml: ")
    assert result.stdout == ""


def test_admin_reports_settings_errors_on_stderr(invoke: Invoke) -> None:
    result = invoke("admin", "create-user", "bob", env={"BITIO_HTTP_PORT": "x"})
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: setting http-port (from BITIO_HTTP_PORT): ")


def test_json_output_is_one_ascii_line(capsys: pytest.CaptureFixture[str]) -> None:
    echo_json({"query_string": "SELECT 'é'", "metadata": {"x": "text"}, "data": [["é"]]})
    assert capsys.readouterr().out == (
        '{"query_string": "SELECT \'\\u00e9\'", "metadata": {"x": "text"}, "data": [["\\u00e9"]]}\n'
    )
