"""Throughput and latency of ``POST /v2beta/query`` against a minimal FastAPI + psycopg endpoint.

Run: ``.venv/bin/python benchmarks/http_query.py`` (``make bench``). ``--help`` for knobs.

Method
------
1. Start ``bit serve`` (``python -m bitdotio serve``) on a fresh data directory under /tmp
   (mode 0711, so the ``bitio-postgres`` system user reaches it when run as root). Postgres
   keeps its default ``fsync=on`` (production-like; the measured statements are read-only, so
   it only affects the setup writes). Read the admin key from stdout, create the database
   ``admin/bench`` and fill table ``t`` (int, text, numeric, timestamptz; 10 000 rows)
   through our own ``/v2beta/query``.
2. Start the anchor, ``benchmarks/_minimal_app.py``: FastAPI served by uvicorn (uvloop,
   httptools, one worker, no access log: the same stack and settings ``bit serve`` uses), a
   psycopg 3 ``AsyncConnectionPool`` as big as our tenant pool, connected to the *same*
   physical database through the embedded server's Unix socket, no auth; ``fetchall`` +
   ``json.dumps`` of the same JSON shape. Both servers answer the same two statements
   (checked before measuring):

   * ``1 row``:   ``SELECT * FROM t WHERE id = 42`` (primary-key lookup, 4 columns)
   * ``1000 rows``: ``SELECT * FROM t ORDER BY id LIMIT 1000``

3. Load: ``wrk`` (installed with apt-get when missing and running as root; otherwise an
   asyncio + httpx closed-loop client in a subprocess), one thread, ``--connections``
   keep-alive connections, pinned with ``taskset`` to the last CPU. Each server and case gets
   a warm-up run, then ``--rounds`` runs of ``--duration`` seconds, alternating ours and
   minimal (ABAB...) so drift hits both equally; the server not being measured is idle.
   req/s is total requests / total time over the rounds; p50/p99 are the means of the
   rounds' percentiles (every round is also printed). The ratio is ours / minimal req/s;
   the issue's goal is >= 0.8 (auth + routing cost <= 20 %).
4. Restart: stop ``bit serve`` (SIGTERM, waits for Postgres to stop), start it again on the
   same data directory and time process start -> first ``GET /healthz`` == 200, ``--restarts``
   times (goal < 3 s).

Never fails on timing: prints whether each goal is met and exits 0 (1 only if the setup
itself breaks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
ROWS_IN_TABLE = 10_000
CASES: dict[str, str] = {
    "1 row": "SELECT * FROM t WHERE id = 42",
    "1000 rows": "SELECT * FROM t ORDER BY id LIMIT 1000",
}
POOL_SIZE = 4  # our tenant-pool-size default; the minimal pool gets the same
RATIO_GOAL = 0.8
RESTART_GOAL_S = 3.0


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITIO_", "PG"))}
    env.update(extra)
    return env


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], started: float, timeout: float
) -> float:
    """Poll ``url`` until 200; the seconds since ``started``."""
    with httpx.Client(timeout=1) as client:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            with suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.02)
    raise RuntimeError(f"{url} not healthy after {timeout}s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Ours:
    """``bit serve`` on its own data directory; ``extra_env`` adds ``BITIO_*`` settings
    (benchmarks/proxy.py points it at its own Postgres and certificate)."""

    data_dir: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    admin_key: str = ""
    endpoint_line: str = ""  # what bit serve printed after "Postgres endpoint:"
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 120) -> float:
        """Start and wait for /healthz; the seconds it took. Reads the key on the first start,
        and the endpoint line on every start."""
        self.starts += 1
        out = self.log_dir / f"serve-{self.starts}.out"
        with open(out, "wb") as stdout, open(self.log_dir / "serve.err", "ab") as stderr:
            started = time.monotonic()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bitdotio",
                    "serve",
                    "--data-dir",
                    self.data_dir,
                    "--http-port",
                    str(self.http_port),
                    "--pg-port",
                    str(self.pg_port),
                ],
                stdout=stdout,
                stderr=stderr,
                env=clean_env(**self.extra_env),
                cwd=ROOT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it
            )
        elapsed = wait_healthy(f"{self.url}/healthz", self.process, started, timeout)
        text = out.read_text()
        for _ in range(50):  # the lines are printed around the time /healthz answers
            if "Postgres endpoint:" in text:
                break
            time.sleep(0.1)
            text = out.read_text()
        if not self.admin_key:
            found = re.search(r"Admin API key \(shown once, store it now\): (\S+)", text)
            if not found:
                raise RuntimeError(f"no admin key in {out}:\n{text}")
            self.admin_key = found.group(1)
        line = re.search(r"^Postgres endpoint: (.*)$", text, re.MULTILINE)
        self.endpoint_line = line.group(1) if line else ""
        return elapsed

    def stop(self) -> None:
        stop(self.process)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method,
            f"{self.url}/v2beta{path}",
            json=body,
            timeout=120,
            headers={"Authorization": f"Bearer {self.admin_key}"},
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def query(self, sql: str) -> Any:
        return self.api("POST", "/query", {"database_name": "admin/bench", "query_string": sql})


@dataclass
class Minimal:
    conninfo: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_dir / "minimal.log", "ab") as log:
            started = time.monotonic()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(BENCH_DIR),
                    "_minimal_app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=clean_env(MINIMAL_CONNINFO=self.conninfo, MINIMAL_POOL_SIZE=str(POOL_SIZE)),
            )
        wait_healthy(f"{self.url}/docs", self.process, started, 60)

    def stop(self) -> None:
        stop(self.process)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


# --------------------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def postgres_pids(data_dir: str) -> list[int]:
    """The postmaster of ``<data-dir>/pg`` and its children (backends, checkpointer...)."""
    try:
        postmaster = int((Path(data_dir) / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) and stat[0] == postmaster:
            pids.append(int(entry.name))
    return pids


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    return {pid: stat[1] for pid in pids if (stat := _proc_stat(pid))}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots (processes born in between count fully)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


# --------------------------------------------------------------------------- load generation


@dataclass
class Run:
    server: str
    case: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_s: float = 0.0  # CPU of the HTTP server process during the run
    postgres_cpu_s: float = 0.0  # CPU of every Postgres process during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def ensure_wrk() -> str | None:
    """``wrk``'s path; apt-get installs it when missing and we are root. None: use the fallback."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk is missing: apt-get install -y wrk ...", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk")


def pin_prefix() -> list[str]:
    """``taskset -c <last cpu>`` when available: keeps the generator off the other core(s)."""
    cpus = os.cpu_count() or 1
    if cpus > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpus - 1)]
    return []


@dataclass
class LoadGen:
    wrk: str | None
    connections: int
    work_dir: Path

    def run(
        self, server: str, case: str, url: str, body: str, auth: str | None, seconds: float
    ) -> Run:
        if self.wrk:
            result = self._wrk(url, body, auth, seconds)
        else:
            result = self._python(url, body, auth, seconds)
        return Run(
            server,
            case,
            int(result["requests"]),
            result["duration_us"] / 1e6,
            result["p50_us"] / 1e3,
            result["p99_us"] / 1e3,
            int(result["errors"]),
        )

    def _wrk(self, url: str, body: str, auth: str | None, seconds: float) -> dict[str, float]:
        script = self.work_dir / "post.lua"
        header = f'wrk.headers["Authorization"] = "Bearer {auth}"' if auth else ""
        script.write_text(_WRK_SCRIPT.format(body=body, auth=header))
        assert self.wrk is not None
        out = subprocess.run(
            [
                *pin_prefix(),
                self.wrk,
                "-t1",
                f"-c{self.connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"^RESULT (\{.*\})$", out.stdout, re.MULTILINE)
        if not found:
            raise RuntimeError(f"unexpected wrk output: {out.stdout}{out.stderr}")
        result: dict[str, float] = json.loads(found.group(1))
        return result

    def _python(self, url: str, body: str, auth: str | None, seconds: float) -> dict[str, float]:
        spec = json.dumps(
            {
                "url": url,
                "body": body,
                "auth": auth,
                "seconds": seconds,
                "connections": self.connections,
            }
        )
        out = subprocess.run(
            [*pin_prefix(), sys.executable, __file__, "--loadgen", spec],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


async def _closed_loop(spec: dict[str, Any]) -> dict[str, float]:
    """The fallback generator: ``connections`` tasks, each sending its next request on reply."""
    headers = {"Content-Type": "application/json"}
    if spec["auth"]:
        headers["Authorization"] = f"Bearer {spec['auth']}"
    limits = httpx.Limits(max_connections=spec["connections"])
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + spec["seconds"]

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    response = await client.post(spec["url"], content=spec["body"], headers=headers)
                    await response.aread()
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(spec["connections"])))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "p50_us": cuts[49] * 1e6,
        "p99_us": cuts[98] * 1e6,
        "errors": errors,
    }


# --------------------------------------------------------------------------- the benchmark


def make_data_dir() -> str:
    path = tempfile.mkdtemp(prefix="bitio-bench-", dir="/tmp")
    os.chmod(path, 0o711)
    return path


def setup_database(ours: Ours) -> str:
    """Create ``admin/bench`` with table ``t``; the database's physical name."""
    ours.api("POST", "/db/", {"name": "bench"})
    ours.query(
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, amount numeric(12, 2),"
        " created timestamptz NOT NULL)"
    )
    ours.query(
        f"INSERT INTO t SELECT g, 'name-' || g, g * 1.25, "
        f"timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' "
        f"FROM generate_series(1, {ROWS_IN_TABLE}) g"
    )
    ours.query("ANALYZE t")
    import psycopg

    with psycopg.connect(socket_conninfo(ours.data_dir, "bitio_catalog")) as conn:
        row = conn.execute("SELECT physical_name FROM databases WHERE name = 'bench'").fetchone()
    if row is None:
        raise RuntimeError("database 'bench' is not in the catalog")
    return str(row[0])


def socket_conninfo(data_dir: str, dbname: str) -> str:
    return f"host={Path(data_dir) / 'run'} port=5432 user=bitio dbname={dbname}"


def check_same_answers(ours: Ours, minimal: Minimal) -> None:
    """Both endpoints give the same columns, type names and row count for every case."""
    for case, sql in CASES.items():
        a = ours.query(sql)
        b = httpx.post(f"{minimal.url}/query", json={"query_string": sql}, timeout=30).json()
        if a["metadata"] != b["metadata"] or len(a["data"]) != len(b["data"]):
            raise RuntimeError(f"{case}: the endpoints disagree:\n{a['metadata']}\n{b['metadata']}")
        print(
            f"  {case}: {len(a['data'])} rows, columns {a['metadata']}; "
            f"response {len(json.dumps(a))} B (ours) / {len(json.dumps(b))} B (minimal)"
        )


@dataclass
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_ms: float  # per request
    postgres_cpu_ms: float  # per request


def summarise(runs: list[Run]) -> Summary:
    return Summary(
        rps=sum(r.requests for r in runs) / sum(r.seconds for r in runs),
        p50_ms=statistics.fmean(r.p50_ms for r in runs),
        p99_ms=statistics.fmean(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        server_cpu_ms=1e3 * sum(r.server_cpu_s for r in runs) / sum(r.requests for r in runs),
        postgres_cpu_ms=1e3 * sum(r.postgres_cpu_s for r in runs) / sum(r.requests for r in runs),
    )


def measure(ours: Ours, minimal: Minimal, gen: LoadGen, args: argparse.Namespace) -> list[Run]:
    targets = {
        "ours": (f"{ours.url}/v2beta/query", ours.admin_key),
        "minimal": (f"{minimal.url}/query", None),
    }
    runs: list[Run] = []
    server_pid = {"ours": ours.pid, "minimal": minimal.pid}
    for case, sql in CASES.items():
        body = json.dumps({"database_name": "admin/bench", "query_string": sql})
        for server, (url, auth) in targets.items():
            gen.run(server, case, url, body, auth, args.warmup)
        for round_no in range(args.rounds):
            order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
            for server in order:
                url, auth = targets[server]
                pg_before = cpu_snapshot(postgres_pids(ours.data_dir))
                server_before = cpu_snapshot([server_pid[server]])
                run = gen.run(server, case, url, body, auth, args.duration)
                run.server_cpu_s = cpu_delta(server_before, cpu_snapshot([server_pid[server]]))
                run.postgres_cpu_s = cpu_delta(
                    pg_before, cpu_snapshot(postgres_pids(ours.data_dir))
                )
                runs.append(run)
                print(
                    f"  {case:>9} {server:>7} round {round_no + 1}: {run.rps:8.0f} req/s  "
                    f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
                    + (f"  ERRORS {run.errors}" if run.errors else ""),
                    flush=True,
                )
    return runs


def print_table(runs: list[Run]) -> bool:
    print(
        "\n| case | ours req/s | minimal req/s | ours/minimal | ours p50 / p99 ms "
        "| minimal p50 / p99 ms | errors ours / minimal |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    met = True
    cpu_lines = []
    for case in CASES:
        a = summarise([r for r in runs if r.case == case and r.server == "ours"])
        b = summarise([r for r in runs if r.case == case and r.server == "minimal"])
        ratio = a.rps / b.rps
        met &= ratio >= RATIO_GOAL and a.errors == 0
        print(
            f"| {case} | {a.rps:.0f} | {b.rps:.0f} | {ratio:.2f}× "
            f"| {a.p50_ms:.2f} / {a.p99_ms:.2f} | {b.p50_ms:.2f} / {b.p99_ms:.2f} "
            f"| {a.errors} / {b.errors} |"
        )
        cpu_lines.append(
            f"| {case} | {a.server_cpu_ms:.3f} | {b.server_cpu_ms:.3f} "
            f"| {a.postgres_cpu_ms:.3f} | {b.postgres_cpu_ms:.3f} |"
        )
    print(
        "\nCPU per request (ms): the HTTP server process, and all Postgres processes\n"
        "\n| case | ours server | minimal server | ours Postgres | minimal Postgres |"
    )
    print("|---|---:|---:|---:|---:|")
    print("\n".join(cpu_lines))
    return met


@contextmanager
def servers(args: argparse.Namespace) -> Iterator[tuple[Ours, Path]]:
    data_dir = make_data_dir()
    log_dir = Path(tempfile.mkdtemp(prefix="bitio-bench-logs-"))
    ours = Ours(data_dir, log_dir)
    try:
        yield ours, log_dir
    finally:
        ours.stop()
        if args.keep:
            print(f"kept: data {data_dir}, logs {log_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(log_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per round (5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server and case (2)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds (3)")
    parser.add_argument("--restarts", type=int, default=3, help="timed restarts (3)")
    parser.add_argument("--python-client", action="store_true", help="skip wrk")
    parser.add_argument("--keep", action="store_true", help="keep the data and log directories")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)  # internal: the fallback client
    args = parser.parse_args(argv)
    if args.loadgen:
        print(json.dumps(asyncio.run(_closed_loop(json.loads(args.loadgen)))))
        return 0

    wrk = None if args.python_client else ensure_wrk()
    print(
        f"load generator: {'wrk ' + wrk if wrk else 'python/httpx closed loop'}, "
        f"{args.connections} connections, pinned: {' '.join(pin_prefix()) or 'no'}; "
        f"{args.rounds} x {args.duration:g} s per server and case after {args.warmup:g} s "
        f"warm-up; {os.cpu_count()} CPUs"
    )
    with servers(args) as (ours, log_dir):
        try:
            first = ours.start()
            print(f"bit serve (fresh data dir, initdb): healthy after {first:.2f} s")
            physical = setup_database(ours)
            minimal = Minimal(socket_conninfo(ours.data_dir, physical), log_dir)
            minimal.start()
            try:
                check_same_answers(ours, minimal)
                runs = measure(ours, minimal, LoadGen(wrk, args.connections, log_dir), args)
            finally:
                minimal.stop()
            ratio_met = print_table(runs)
            print(
                f"\nGoal ours >= {RATIO_GOAL}× minimal req/s (and no errors): "
                f"{'met' if ratio_met else 'NOT met'}"
            )

            restarts = []
            for _ in range(args.restarts):
                ours.stop()
                restarts.append(ours.start())
            if restarts:
                median = statistics.median(restarts)
                print(
                    f"bit serve restart on an existing data dir -> /healthz 200: "
                    f"{', '.join(f'{s:.2f}' for s in restarts)} s (median {median:.2f} s); "
                    f"goal < {RESTART_GOAL_S:g} s: "
                    f"{'met' if max(restarts) < RESTART_GOAL_S else 'NOT met'}"
                )
        except (RuntimeError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
            print(f"benchmark setup failed: {exc}", file=sys.stderr)
            err = log_dir / "serve.err"
            if err.exists():
                print(err.read_text(errors="replace")[-3000:], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
