"""The SDK and ``bit --help`` work without the server extra or psycopg2 (style: layout)."""

import subprocess
import sys

SCRIPT = """
import sys
import bitdotio
import bitdotio.cli
from click.testing import CliRunner
result = CliRunner().invoke(bitdotio.cli.bit, ["--help"], prog_name="bit")
assert result.exit_code == 0, result.output
server_only = {"fastapi", "starlette", "uvicorn", "psycopg", "psycopg2", "psycopg_pool"}
heavy = sorted(
    name for name in sys.modules
    if name.split(".")[0] in server_only
    or name.startswith(("bitdotio.server", "bitdotio.catalog", "bitdotio.cluster"))
)
print(heavy)
"""


def test_import_and_help_load_no_server_code() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    assert completed.stdout == "[]\n"
