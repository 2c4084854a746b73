"""What the job benchmarks do beside the API: psql over the embedded Postgres's Unix socket,
and a separate ``bit serve --only worker`` whose peak RSS is read from ``/proc``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from http_query import ROOT, Ours, clean_env, free_port

__all__ = ["bench_physical_name", "peak_rss_kb", "psql", "psql_value", "start_worker"]


def _psql_args(ours: Ours, dbname: str, user: str) -> list[str]:
    return ["psql", "-X", "-h", str(Path(ours.data_dir) / "run"), "-U", user, "-d", dbname]


def psql(ours: Ours, dbname: str, *commands: str, user: str = "bitio") -> None:
    """Run ``commands`` in one psql session (each ``-c`` its own transaction); stop at the
    first error."""
    args = [*_psql_args(ours, dbname, user), "-q", "-v", "ON_ERROR_STOP=1"]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args, check=True, capture_output=True)


def psql_value(ours: Ours, dbname: str, query: str, *, user: str = "bitio") -> str:
    """The unaligned, tuples-only output of ``query``, stripped."""
    out = subprocess.run(
        [*_psql_args(ours, dbname, user), "-Atc", query],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def bench_physical_name(ours: Ours) -> str:
    """The Postgres database behind ``admin/bench``."""
    return psql_value(
        ours, "bitio_catalog", "SELECT physical_name FROM databases WHERE name = 'bench'"
    )


def start_worker(ours: Ours, stderr: Path) -> subprocess.Popen[bytes]:
    """``bit serve --only worker`` on ``ours``'s data directory, in its own session (so Ctrl-C
    reaches only the benchmark, which stops it)."""
    with stderr.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bitdotio", "serve", "--only", "worker"],
            env=clean_env(
                BITIO_DATA_DIR=ours.data_dir,
                BITIO_HTTP_PORT=str(free_port()),
                BITIO_PG_PORT=str(free_port()),
            ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )


def peak_rss_kb(pid: int) -> int:
    """``VmHWM`` of a live process: its peak resident set so far."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
