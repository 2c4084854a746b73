"""pgbench through our Postgres endpoint, through pgbouncer and directly, on one database.

Run: ``.venv/bin/python benchmarks/proxy.py`` (``make bench-proxy``). ``--help`` for knobs.

Method
------
1. One Postgres of our own (``initdb`` into a temporary directory, run as the ``bitio-postgres``
   system user when we are root, like the embedded server). It listens on a private Unix socket
   (``local all all trust``) and on ``127.0.0.1:<free port>`` with ``ssl = on``: ``hostssl``
   ``scram-sha-256`` for everyone, except the role ``bench_trust`` (``hostssl trust``). The
   certificate is a self-signed one made with ``openssl`` (EC P-256 by default, ``--key-type``);
   all three paths present the same one (and bit serve gets it through
   ``BITIO_TLS_CERT``/``BITIO_TLS_KEY``). ``fsync`` stays on; ``synchronous_commit`` is off
   unless ``--sync-commit``, so TPC-B measures the path rather than the disk's flush latency.
2. ``bit serve`` with ``BITIO_DATABASE_URL`` pointing at that Postgres as its superuser over the
   Unix socket (tenant roles come through the same socket with trust), a scratch data
   directory, free HTTP and Postgres-endpoint ports, and the certificate above. The admin key
   is read from its stdout; the database ``admin/bench`` is created through
   ``POST /v2beta/db/`` and filled with ``pgbench -i -s 5`` *through our endpoint* (user
   ``api_user``, password = the key, dbname ``admin/bench``), so the tables belong to the
   tenant. Its physical name comes from the catalog (``bitio_catalog.databases``).
3. pgbouncer (the Debian package, ``scripts/install-system-deps pgbouncer``), run as the same
   unprivileged user: TLS on the client side (``client_tls_sslmode = require``, same
   certificate), ``auth_type = scram-sha-256`` against the role's SCRAM verifier copied into its
   ``auth_file``, ``pool_mode = session`` (our endpoint is session-level: one server connection
   per client connection, so session mode is the like-for-like setting; transaction mode would
   be the faster configuration for short transactions), upstream over the Unix socket.
4. The three paths, all TLS (``sslmode=require``) to the same physical database:

   * ``ours``:      our endpoint, tenant role, password = API key
   * ``pgbouncer``: ``bench_scram`` with SCRAM, session pool
   * ``direct``:    Postgres itself, ``bench_scram`` with SCRAM (``direct-trust``:
     ``bench_trust`` with trust, the stricter anchor for the connection rate)

   ``bench_scram`` and ``bench_trust`` are ordinary roles that are members of the tenant's own
   role, so every path runs under the same privilege checks (a superuser skips them, which
   made the anchors look about 10% cheaper in Postgres than the tenant role through ours).

5. Load: ``pgbench -n -c 8 -j 2 -T <duration>`` (simple protocol unless ``--protocol``), pinned
   with ``taskset`` to the last CPU. Cases: select-only (``-S``), TPC-B (the builtin
   ``tpcb-like``), and the new-connection rate (``-C -S``: one connection per transaction).
   Each path and case gets a warm-up run, then ``--rounds`` runs, the order rotated every round
   (ABC, BCA, CAB, ...) so drift hits every path equally; the other paths stay idle. tps and
   latency are the means of the rounds (every round is printed). CPU per transaction of the
   middle process (``bit serve`` or pgbouncer) and of all Postgres processes is measured from
   /proc (including exited backends, through the postmaster's cutime/cstime). The load
   average is printed before and after: other work on the machine makes every figure noisy.

Goals: select-only and TPC-B throughput of ours >= 1.0x pgbouncer; connection rate of ours
>= 0.8x direct (SCRAM; the ratio to direct-trust is printed too). Never fails on timing: prints
whether each goal is met and exits 0 (1 only if the setup breaks). Every process and temporary
directory is removed on exit, on Ctrl-C and SIGTERM too (``--keep`` keeps the directories).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psycopg
from http_query import Ours, clean_env, free_port, pin_prefix, stop
from psycopg import sql

from bitdotio.cluster.binaries import find_bindir
from bitdotio.errors import BitError

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "postgres"  # initdb's bootstrap superuser; bit serve's BITIO_DATABASE_URL role
SCRAM_ROLE = "bench_scram"  # superuser with a password: direct and pgbouncer paths
TRUST_ROLE = "bench_trust"  # superuser admitted by hostssl trust: the stricter anchor
SYSTEM_USER = "bitio-postgres"  # the unprivileged user the project runs Postgres as under root
DB_NAME = "bench"
SCALE = 5
THROUGHPUT_GOAL = 1.0  # ours / pgbouncer, select-only and TPC-B tps
CONNECT_GOAL = 0.8  # ours / direct (SCRAM), new connections per second
CASES: dict[str, list[str]] = {
    "select-only": ["-S"],
    "TPC-B": [],
    "connect": ["-C", "-S"],
}
PATHS: dict[str, list[str]] = {
    "select-only": ["ours", "pgbouncer", "direct"],
    "TPC-B": ["ours", "pgbouncer", "direct"],
    "connect": ["ours", "direct", "direct-trust", "pgbouncer"],
}


class SetupError(RuntimeError):
    """The benchmark could not be set up (not a timing result)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user Postgres and pgbouncer run as when we are root (None: ourselves)."""

    uid: int
    gid: int

    @staticmethod
    def for_servers() -> RunAs | None:
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            nologin = shutil.which("nologin") or "/usr/sbin/nologin"
            options = ["--system", "--no-create-home", "--user-group", "--shell", nologin]
            subprocess.run(["useradd", *options, SYSTEM_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        return RunAs(entry.pw_uid, entry.pw_gid)

    def own(self, *paths: Path) -> None:
        for path in paths:
            os.chown(path, self.uid, self.gid)


def popen_kwargs(run_as: RunAs | None) -> dict[str, Any]:
    """Run as ``run_as``, in a session of its own so Ctrl-C reaches only us and pgbench."""
    kwargs: dict[str, Any] = {"start_new_session": True}
    if run_as is not None:
        kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=[])
    return kwargs


def run_checked(argv: list[str], run_as: RunAs | None = None, **kwargs: Any) -> str:
    """Run to completion; stdout. A failure raises ``SetupError`` with the output."""
    extra = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []} if run_as else {}
    result = subprocess.run(argv, capture_output=True, text=True, **extra, **kwargs)
    if result.returncode != 0:
        raise SetupError(f"{' '.join(argv[:3])} ... failed: {result.stdout}{result.stderr}")
    return result.stdout


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(entry: Path) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of its children it has reaped)."""
    try:
        fields = (entry / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICK


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of ``pid`` and its children, live or exited: a backend that exits is reaped
    by the postmaster and its time moves into the postmaster's cutime/cstime, so the
    difference of two readings counts short-lived backends too."""
    if pid is None:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        stat = _stat(entry) if entry.name.isdigit() else None
        if stat and pid in (int(entry.name), stat[0]):
            total += stat[1]
    return total


def make_cert(tls_dir: Path, key_type: str, run_as: RunAs | None) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost; (cert, key), owned by ``run_as``."""
    cert, key = tls_dir / "server.crt", tls_dir / "server.key"
    newkey = ["-newkey", "rsa:2048"] if key_type == "rsa" else ["-newkey", "ec"]
    if key_type == "ec":
        newkey += ["-pkeyopt", "ec_paramgen_curve:prime256v1"]
    names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    run_checked(["openssl", "req", "-x509", *newkey, "-nodes", "-days", "2", *names, *files])
    os.chmod(key, 0o600)
    if run_as is not None:
        run_as.own(tls_dir, cert, key)
    return cert, key


@dataclass
class Postgres:
    """Our own Postgres: Unix socket with trust, TCP with TLS (scram, or trust for one role)."""

    work: Path
    run_as: RunAs | None
    cert: Path
    key: Path
    sync_commit: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def pg_dir(self) -> Path:
        return self.work / "pg"

    @property
    def socket_dir(self) -> Path:
        return self.work / "run"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"

    @property
    def url(self) -> str:
        """``BITIO_DATABASE_URL`` for bit serve: the superuser over the Unix socket."""
        return f"postgresql:///postgres?host={self.socket_dir}&port={self.port}&user={SUPERUSER}"

    def init(self, bindir: Path) -> None:
        for directory in (self.pg_dir, self.socket_dir):
            directory.mkdir(mode=0o700)
            if self.run_as is not None:
                self.run_as.own(directory)
        options = ["-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"]
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256"]
        initdb = [str(bindir / "initdb"), "-D", str(self.pg_dir), *options, *auth]
        run_checked(initdb, self.run_as, cwd=self.work)
        (self.pg_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"hostssl all {TRUST_ROLE} 127.0.0.1/32 trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "unix_socket_permissions": "0700",
            "max_connections": "200",
            "ssl": "on",
            "ssl_cert_file": f"'{self.cert}'",
            "ssl_key_file": f"'{self.key}'",
            "password_encryption": "'scram-sha-256'",
            "shared_buffers": "'128MB'",
            "synchronous_commit": "on" if self.sync_commit else "off",
            "log_min_messages": "warning",
        }
        with open(self.pg_dir / "postgresql.conf", "a") as conf:
            conf.write("".join(f"{k} = {v}\n" for k, v in settings.items()))

    def start(self, bindir: Path, timeout: float = 60) -> None:
        log = open(self.work / "postgres.log", "ab")  # noqa: SIM115 - the child keeps it
        with log:
            self.process = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(self.pg_dir)],
                stdout=log,
                stderr=log,
                cwd=self.work,
                **popen_kwargs(self.run_as),
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.conninfo(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SetupError(
                        f"Postgres did not start: see {self.work}/postgres.log"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def create_roles(self, password: str) -> str:
        """The SCRAM and trust superusers; the SCRAM verifier of the first (for pgbouncer)."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {TRUST_ROLE} LOGIN SUPERUSER")
            conn.execute(f"CREATE ROLE {SCRAM_ROLE} LOGIN SUPERUSER")
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(SCRAM_ROLE), sql.Literal(password)
                )
            )
            row = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (SCRAM_ROLE,)
            ).fetchone()
        if row is None or not str(row[0]).startswith("SCRAM-SHA-256$"):
            raise SetupError(f"no SCRAM verifier for {SCRAM_ROLE}: {row}")
        return str(row[0])

    def share_tenant_rights(self, username: str) -> None:
        """Make the anchor roles ordinary members of the tenant's own role, so every path runs
        pgbench under the same privilege checks (a superuser skips them and looks cheaper)."""
        with psycopg.connect(self.conninfo("bitio_catalog")) as conn:
            row = conn.execute(
                "SELECT role_name FROM users WHERE username = %s", (username,)
            ).fetchone()
        if row is None:
            raise SetupError(f"user {username!r} is not in the catalog")
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            for role in (TRUST_ROLE, SCRAM_ROLE):
                conn.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER").format(sql.Identifier(role)))
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(str(row[0])), sql.Identifier(role)
                    )
                )

    def physical_name(self, name: str) -> str:
        with psycopg.connect(self.conninfo("bitio_catalog")) as conn:
            row = conn.execute(
                "SELECT physical_name FROM databases WHERE name = %s", (name,)
            ).fetchone()
        if row is None:
            raise SetupError(f"database {name!r} is not in the catalog")
        return str(row[0])

    def server_version(self) -> str:
        with psycopg.connect(self.conninfo()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


@dataclass
class PgBouncer:
    """pgbouncer in session mode: TLS + SCRAM for clients, the Unix socket upstream."""

    work: Path
    run_as: RunAs | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def configure(self, postgres: Postgres, physical: str, verifier: str) -> None:
        self.work.mkdir(mode=0o700)
        userlist = self.work / "userlist.txt"
        userlist.write_text(f'"{SCRAM_ROLE}" "{verifier}"\n')
        ini = self.work / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{DB_NAME} = host={postgres.socket_dir} port={postgres.port} dbname={physical}\n"
            "\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {userlist}\n"
            "pool_mode = session\nmax_client_conn = 500\ndefault_pool_size = 50\n"
            "client_tls_sslmode = require\n"
            f"client_tls_cert_file = {postgres.cert}\nclient_tls_key_file = {postgres.key}\n"
            f"logfile = {self.work / 'pgbouncer.log'}\n"
            "log_connections = 0\nlog_disconnections = 0\nlog_pooler_errors = 1\n"
        )
        if self.run_as is not None:
            self.run_as.own(self.work, userlist, ini)

    def start(self, timeout: float = 30) -> None:
        with open(self.work / "stdout.log", "ab") as log:
            self.process = subprocess.Popen(
                ["pgbouncer", str(self.work / "pgbouncer.ini")],
                stdout=log,
                stderr=log,
                cwd=self.work,
                **popen_kwargs(self.run_as),
            )
        deadline = time.monotonic() + timeout
        while True:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"pgbouncer did not start: see {self.work}/pgbouncer.log")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM: immediate shutdown."""
        stop(self.process)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def make_ours(work: Path, postgres: Postgres) -> Ours:
    """``bit serve`` on the benchmark's Postgres (``BITIO_DATABASE_URL``) and certificate."""
    work.mkdir()
    return Ours(
        str(work / "data"),
        work,
        extra_env={
            "BITIO_DATABASE_URL": postgres.url,
            "BITIO_TLS_CERT": str(postgres.cert),
            "BITIO_TLS_KEY": str(postgres.key),
        },
    )


# --------------------------------------------------------------------------- paths and pgbench


def tls_env(port: int, user: str, dbname: str, password: str = "") -> dict[str, str]:
    """libpq's environment for 127.0.0.1:<port> with TLS (``sslmode=require``)."""
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": user, "PGDATABASE": dbname}
    env |= {"PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "10"}
    if password:
        env["PGPASSWORD"] = password
    return env


@dataclass(frozen=True)
class Target:
    """One way to reach the database: the libpq environment pgbench gets."""

    name: str
    env: dict[str, str]
    middle_pid: int | None = None  # bit serve or pgbouncer: its CPU is accounted

    def check(self) -> str:
        """Connect once and say who we are, where; raises SetupError if the path is broken."""
        params = {
            "host": self.env["PGHOST"],
            "port": self.env["PGPORT"],
            "user": self.env["PGUSER"],
            "dbname": self.env["PGDATABASE"],
            "sslmode": "require",
            "password": self.env.get("PGPASSWORD", ""),
            "connect_timeout": 10,
        }
        try:
            with psycopg.connect(**params) as conn:
                row = conn.execute(
                    "SELECT current_user, current_database(), ssl FROM pg_stat_ssl "
                    "WHERE pid = pg_backend_pid()"
                ).fetchone()
        except psycopg.Error as exc:
            raise SetupError(f"{self.name}: cannot connect: {exc}") from exc
        return f"{self.name}: user {row[0]}, database {row[1]}, Postgres-side ssl {row[2]}"


@dataclass
class Run:
    target: str
    case: str
    tps: float
    latency_ms: float
    transactions: int
    failed: int
    connect_ms: float  # pgbench's average connection time (-C only)
    middle_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    problem: str = ""  # pgbench's complaints (aborted clients, errors), if any


_PATTERNS = {
    "tps": r"^tps = ([\d.]+)",
    "latency_ms": r"^latency average = ([\d.]+) ms",
    "transactions": r"^number of transactions actually processed: (\d+)",
    "failed": r"^number of failed transactions: (\d+)",
    "connect_ms": r"^average connection time = ([\d.]+) ms",
}


def parse_pgbench(output: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, pattern in _PATTERNS.items():
        found = re.search(pattern, output, re.MULTILINE)
        values[key] = float(found.group(1)) if found else 0.0
    return values


@dataclass
class Pgbench:
    binary: str  # the server's own pgbench, not Debian's pg_wrapper
    clients: int
    threads: int
    protocol: str
    pin: list[str]

    def init(self, env: dict[str, str]) -> float:
        """``pgbench -i -s SCALE``; the seconds it took."""
        started = time.monotonic()
        result = subprocess.run(
            [self.binary, "-i", "-s", str(SCALE), "-q"],
            capture_output=True,
            text=True,
            env=clean_env(**env),
            check=False,
        )
        if result.returncode != 0:
            raise SetupError(f"pgbench -i failed ({result.returncode}):\n{result.stderr}")
        return time.monotonic() - started

    def run(self, target: Target, case: str, seconds: float) -> Run:
        argv = [*self.pin, self.binary, "-n", "-c", str(self.clients), "-j", str(self.threads)]
        argv += ["-T", f"{seconds:g}", "-M", self.protocol, *CASES[case]]
        result = subprocess.run(
            argv, capture_output=True, text=True, env=clean_env(**target.env), check=False
        )
        values = parse_pgbench(result.stdout)
        problem = ""
        if result.returncode != 0 or not values["tps"]:
            lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
            problem = f"pgbench exit {result.returncode}: " + " | ".join(_distinct(lines)[:4])
        return Run(
            target.name,
            case,
            values["tps"],
            values["latency_ms"],
            int(values["transactions"]),
            int(values["failed"]),
            values["connect_ms"],
            problem=problem,
        )


def _distinct(lines: list[str]) -> list[str]:
    """Lines with client numbers masked, first occurrence of each kept."""
    seen: dict[str, None] = {}
    for line in lines:
        seen.setdefault(re.sub(r"client \d+", "client N", line), None)
    return list(seen)


# --------------------------------------------------------------------------- measuring


def measure(
    targets: dict[str, Target], postgres: Postgres, bench: Pgbench, args: argparse.Namespace
) -> list[Run]:
    runs: list[Run] = []
    assert postgres.process is not None
    for case in args.cases:
        names = [name for name in PATHS[case] if name in targets]
        for name in names:
            bench.run(targets[name], case, args.warmup)
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                target = targets[name]
                middle, pg = tree_cpu(target.middle_pid), tree_cpu(postgres.process.pid)
                run = bench.run(target, case, args.duration)
                run.middle_cpu_s = tree_cpu(target.middle_pid) - middle
                run.postgres_cpu_s = tree_cpu(postgres.process.pid) - pg
                runs.append(run)
                print(
                    f"  {case:>11} {name:>12} round {round_no + 1}: {run.tps:9.1f} tps  "
                    f"latency {run.latency_ms:7.3f} ms"
                    + (f"  connect {run.connect_ms:.3f} ms" if run.connect_ms else "")
                    + (f"  failed {run.failed}" if run.failed else "")
                    + (f"  PROBLEM {run.problem}" if run.problem else ""),
                    flush=True,
                )
    return runs


@dataclass
class Summary:
    tps: float
    latency_ms: float
    connect_ms: float
    middle_cpu_ms: float  # per transaction
    postgres_cpu_ms: float  # per transaction
    problems: int


def summarise(runs: list[Run]) -> Summary | None:
    if not runs:
        return None
    transactions = sum(r.transactions for r in runs) or 1
    return Summary(
        tps=statistics.fmean(r.tps for r in runs),
        latency_ms=statistics.fmean(r.latency_ms for r in runs),
        connect_ms=statistics.fmean(r.connect_ms for r in runs),
        middle_cpu_ms=1e3 * sum(r.middle_cpu_s for r in runs) / transactions,
        postgres_cpu_ms=1e3 * sum(r.postgres_cpu_s for r in runs) / transactions,
        problems=sum(bool(r.problem) or r.failed > 0 for r in runs),
    )


def _ratio(a: Summary | None, b: Summary | None) -> str:
    return f"{a.tps / b.tps:.2f}×" if a and b and b.tps else "n/a"


def _goal(a: Summary | None, b: Summary | None, goal: float) -> str:
    if not (a and b and b.tps):
        return "n/a"
    met = a.tps / b.tps >= goal and a.problems == 0
    return f"≥ {goal:g}×: {'met' if met else 'NOT met'}"


def _cell(summary: Summary | None, unit: str = "tps") -> str:
    if summary is None:
        return "n/a"
    flag = f" ({summary.problems} bad rounds)" if summary.problems else ""
    return f"{summary.tps:.0f}{flag}" if unit == "tps" else f"{summary.latency_ms:.3f}"


def print_tables(runs: list[Run], cases: list[str]) -> None:
    def pick(case: str, target: str) -> Summary | None:
        return summarise([r for r in runs if r.case == case and r.target == target])

    throughput = [c for c in cases if c != "connect"]
    if throughput:
        print(
            "\n| case | ours tps | pgbouncer tps | direct tps | ours / pgbouncer | ours / direct "
            "| latency ms ours / pgbouncer / direct | goal (vs pgbouncer) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for case in throughput:
            ours, bouncer, direct = (pick(case, t) for t in ("ours", "pgbouncer", "direct"))
            latencies = " / ".join(_cell(s, "ms") for s in (ours, bouncer, direct))
            print(
                f"| {case} | {_cell(ours)} | {_cell(bouncer)} | {_cell(direct)} "
                f"| {_ratio(ours, bouncer)} | {_ratio(ours, direct)} | {latencies} "
                f"| {_goal(ours, bouncer, THROUGHPUT_GOAL)} |"
            )
    if "connect" in cases:
        ours, scram, trust, bouncer = (
            pick("connect", t) for t in ("ours", "direct", "direct-trust", "pgbouncer")
        )
        print(
            "\n| new connections/s (-C -S) | ours | direct scram | direct trust | pgbouncer "
            "| ours / direct scram | ours / direct trust | goal (vs direct scram) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        print(
            f"| conn/s | {_cell(ours)} | {_cell(scram)} | {_cell(trust)} | {_cell(bouncer)} "
            f"| {_ratio(ours, scram)} | {_ratio(ours, trust)} "
            f"| {_goal(ours, scram, CONNECT_GOAL)} |"
        )
        connect_ms = " | ".join(
            f"{s.connect_ms:.3f}" if s else "n/a" for s in (ours, scram, trust, bouncer)
        )
        print(f"| pgbench avg connection time, ms | {connect_ms} | | | |")
    print(
        "\nCPU per transaction (ms): the middle process (bit serve / pgbouncer) and all "
        "Postgres processes\n\n| case | path | middle | Postgres |\n|---|---|---:|---:|"
    )
    for case in cases:
        for target in PATHS[case]:
            if summary := pick(case, target):
                print(
                    f"| {case} | {target} | {summary.middle_cpu_ms:.3f} "
                    f"| {summary.postgres_cpu_ms:.3f} |"
                )


# --------------------------------------------------------------------------- setup


@contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """A scratch directory under /tmp that the unprivileged server user can traverse."""
    path = Path(tempfile.mkdtemp(prefix="bitio-bench-proxy-", dir="/tmp"))
    os.chmod(path, 0o711)
    try:
        yield path
    finally:
        if keep:
            print(f"kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def ensure_pgbouncer() -> None:
    """``scripts/install-system-deps pgbouncer``: idempotent, apt-get as root when missing."""
    if shutil.which("pgbouncer"):
        return
    print("pgbouncer is missing: scripts/install-system-deps pgbouncer ...", flush=True)
    subprocess.run([str(ROOT / "scripts" / "install-system-deps"), "pgbouncer"], check=False)
    if not shutil.which("pgbouncer"):
        raise SetupError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine makes every figure noisy."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def endpoint_works(target: Target) -> str:
    """'' when a psql-style connection through our endpoint answers; else why not."""
    try:
        target.check()
    except SetupError as exc:
        return str(exc)
    return ""


def setup(
    stack: ExitStack, work: Path, args: argparse.Namespace, bindir: Path, bench: Pgbench
) -> tuple[Postgres, dict[str, Target]]:
    """Postgres, bit serve, the database filled by pgbench -i, pgbouncer; the paths to it."""
    run_as = RunAs.for_servers()
    tls_dir = work / "tls"
    tls_dir.mkdir(mode=0o700)
    cert, key = make_cert(tls_dir, args.key_type, run_as)

    postgres = Postgres(work, run_as, cert, key, args.sync_commit)
    postgres.init(bindir)
    stack.callback(postgres.stop)
    postgres.start(bindir)
    password = secrets.token_urlsafe(18)
    verifier = postgres.create_roles(password)
    print(f"Postgres {postgres.server_version()} ({bindir}) on 127.0.0.1:{postgres.port}, TLS")

    ours = make_ours(work / "serve", postgres)
    stack.callback(ours.stop)
    print(f"bit serve: healthy after {ours.start():.2f} s")
    print(f"  bit serve says: Postgres endpoint: {ours.endpoint_line or '(no line)'}")
    ours.api("POST", "/db/", {"name": DB_NAME})
    ours.api("GET", f"/db/admin/{DB_NAME}")
    physical = postgres.physical_name(DB_NAME)
    postgres.share_tenant_rights("admin")

    bouncer = PgBouncer(work / "pgbouncer", run_as)
    bouncer.configure(postgres, physical, verifier)
    stack.callback(bouncer.stop)
    bouncer.start()

    pg, bp = postgres.port, bouncer.port
    key = ours.admin_key
    targets = {
        "ours": Target(
            "ours", tls_env(ours.pg_port, "api_user", f"admin/{DB_NAME}", key), ours.pid
        ),
        "pgbouncer": Target("pgbouncer", tls_env(bp, SCRAM_ROLE, DB_NAME, password), bouncer.pid),
        "direct": Target("direct", tls_env(pg, SCRAM_ROLE, physical, password)),
        "direct-trust": Target("direct-trust", tls_env(pg, TRUST_ROLE, physical)),
    }
    offers_url = re.match(r"postgres(?:ql)?://", ours.endpoint_line)
    why_not = "no endpoint URL printed" if not offers_url else endpoint_works(targets["ours"])
    if why_not:
        if not args.allow_missing_endpoint:
            raise SetupError(f"our Postgres endpoint is not usable: {why_not}")
        print(f"  our endpoint is NOT usable ({why_not}): measuring pgbouncer and direct only")
        del targets["ours"]
        init_env = targets["direct"].env
    else:
        init_env = targets["ours"].env
    print(
        f"pgbench -i -s {SCALE} through {'ours' if 'ours' in targets else 'direct'}: "
        f"{bench.init(init_env):.1f} s; database admin/{DB_NAME} = {physical}"
    )
    for target in targets.values():
        print("  " + target.check())
    return postgres, targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="pgbench -c (8)")
    parser.add_argument("--threads", type=int, default=2, help="pgbench -j (2)")
    parser.add_argument("--duration", type=float, default=5, help="seconds per round (5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path and case (3)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds (2)")
    parser.add_argument(
        "--protocol",
        choices=["simple", "extended", "prepared"],
        default="simple",
        help="pgbench -M",
    )
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--key-type", choices=["ec", "rsa"], default="ec", help="TLS key (ec)")
    parser.add_argument("--no-pin", action="store_true", help="do not taskset pgbench")
    parser.add_argument(
        "--sync-commit",
        action="store_true",
        help="synchronous_commit = on (default off: TPC-B measures the path, not the disk)",
    )
    parser.add_argument(
        "--allow-missing-endpoint",
        action="store_true",
        help="measure pgbouncer and direct only when our endpoint is not usable",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _on_sigterm)
    pin = [] if args.no_pin else pin_prefix()
    try:
        bindir = find_bindir(os.environ.get("BITIO_PG_BINDIR"))
    except BitError as exc:
        print(exc.public_message(), file=sys.stderr)
        return 1
    binary = str(bindir / "pgbench") if (bindir / "pgbench").exists() else "pgbench"
    bench = Pgbench(binary, args.clients, args.threads, args.protocol, pin)
    print(
        f"pgbench -c {args.clients} -j {args.threads} -M {args.protocol}, pinned: "
        f"{' '.join(pin) or 'no'}; {args.rounds} x {args.duration:g} s per path and case after "
        f"{args.warmup:g} s warm-up; {os.cpu_count()} CPUs; TLS key {args.key_type}; "
        f"synchronous_commit {'on' if args.sync_commit else 'off'}; "
        f"load average before: {load_average()}"
    )
    try:
        ensure_pgbouncer()
        with workspace(args.keep) as work, ExitStack() as stack:
            try:
                postgres, targets = setup(stack, work, args, bindir, bench)
                runs = measure(targets, postgres, bench, args)
            except (RuntimeError, httpx.HTTPError, psycopg.Error, OSError) as exc:
                print(f"benchmark setup failed: {exc}", file=sys.stderr)
                for log in ("serve/serve.err", "postgres.log", "pgbouncer/pgbouncer.log"):
                    if (work / log).exists():
                        tail = (work / log).read_text(errors="replace")[-2000:]
                        print(f"--- {log} (tail)\n{tail}", file=sys.stderr)
                return 1
            print(f"load average after: {load_average()}")
            print_tables(runs, args.cases)
    except RuntimeError as exc:  # SetupError, and bit serve failing to start
        print(f"benchmark setup failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: everything stopped and removed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
