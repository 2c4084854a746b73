"""psql (libpq 15, a subprocess) through the endpoint: URL and keyword forms, \\d, \\copy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.drivers.support import Tenant
from tests.e2e.conftest import base_env

pytestmark = pytest.mark.e2e


def psql(target: str, *commands: str, stdin: str | None = None) -> str:
    """Run psql with ``-c`` per command (no psqlrc, stop at the first error); its stdout."""
    args = ["psql", target, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        args += ["-c", command]
    out = subprocess.run(
        args, input=stdin, capture_output=True, text=True, env=base_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def url(tenant: Tenant, path: str) -> str:
    return (
        f"postgresql://anything:{tenant.key}@127.0.0.1:{tenant.server.pg_port}/{path}"
        "?sslmode=require&connect_timeout=10"
    )


# libpq takes the URL path up to "?" as the database name, percent-decoded: a raw slash works
# (checked with libpq 15: both send database "alice/mydb" in the StartupMessage), and so does
# %2F. bit.io's own connect dialog showed the raw form.
@pytest.mark.parametrize("encode", [False, True], ids=["raw-slash", "percent-2F"])
def test_url_with_the_owner_slash(tenant: Tenant, database: str, encode: bool) -> None:
    path = database.replace("/", "%2F") if encode else database
    out = psql(url(tenant, path), "SELECT current_database(), 6 * 7", "\\conninfo")
    first, conninfo = out.splitlines()[0], "\n".join(out.splitlines()[1:])
    assert first.split("|")[1] == "42"
    assert "SSL connection" in conninfo


def test_url_with_the_owner_dot(tenant: Tenant, database: str) -> None:
    assert psql(url(tenant, database.replace("/", ".")), "SELECT 'dot'") == "dot\n"


def test_keyword_form_with_the_owner_dot(tenant: Tenant, database: str) -> None:
    target = tenant.conninfo(database.replace("/", "."), user="whoever")
    assert psql(target, "SELECT 1 + 1") == "2\n"


def test_describe_and_copy_in_and_out(tenant: Tenant, database: str, tmp_path: Path) -> None:
    target = url(tenant, database)
    source = tmp_path / "in.csv"
    source.write_text('1,one\n2,two\n3,"th,ree"\n')
    exported = tmp_path / "out.csv"
    psql(target, "CREATE TABLE psql_copy (id integer PRIMARY KEY, label text)")

    # \copy ... FROM a file and FROM pstdin both run COPY FROM STDIN on the wire.
    psql(target, f"\\copy psql_copy FROM '{source}' WITH (FORMAT csv)")
    psql(target, "\\copy psql_copy FROM pstdin WITH (FORMAT csv)", stdin="4,four\n5,five\n")
    # ... and TO a file / TO STDOUT run COPY TO STDOUT.
    psql(target, f"\\copy (SELECT * FROM psql_copy ORDER BY id) TO '{exported}' WITH (FORMAT csv)")
    assert exported.read_text() == ('1,one\n2,two\n3,"th,ree"\n4,four\n5,five\n')
    out = psql(target, "\\copy (SELECT label FROM psql_copy WHERE id > 3 ORDER BY id) TO STDOUT")
    assert out == "four\nfive\n"

    described = psql(target, "\\d", "\\d psql_copy")
    assert "psql_copy|table|" in described
    assert "label|text" in described
