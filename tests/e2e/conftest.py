"""End-to-end: ``bit serve`` as a subprocess on free ports with its own data directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.conftest import make_data_dir

BIT = [sys.executable, "-m", "bitdotio"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITIO_", "PG"))}
    env.update(BITIO_PG_FSYNC="0", **extra)
    return env


@dataclass
class Server:
    data_dir: str
    http_port: int
    pg_port: int
    process: subprocess.Popen[str] | None = None
    admin_key: str = ""
    admin_username: str = ""
    stdout_lines: list[str] = field(default_factory=list)
    # Extra BITIO_* settings for this server only (e.g. short proxy timeouts).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v2beta"

    db_host = "127.0.0.1"

    @property
    def db_port(self) -> int:
        return self.pg_port

    def start(self, timeout_s: float = 60) -> float:
        """Start ``bit serve``; return the seconds until /healthz answered 200."""
        started = time.monotonic()
        with open(Path(self.data_dir) / "serve.log", "a") as log:
            self.process = subprocess.Popen(
                [
                    *BIT,
                    "serve",
                    "--data-dir",
                    self.data_dir,
                    "--http-port",
                    str(self.http_port),
                    "--pg-port",
                    str(self.pg_port),
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=base_env(**self.env),
            )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            if match := re.search(r"Admin API key \(shown once, store it now\): (\S+)", line):
                self.admin_key = match.group(1)
            if match := re.match(r"Admin user: (\S+)", line):
                self.admin_username = match.group(1)
            if line.startswith("Postgres endpoint:"):
                break
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"bit serve exited {self.process.returncode}: {self.log()}")
            try:
                if requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"bit serve not healthy after {timeout_s}s: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        if self.process.stdout:
            self.process.stdout.close()
        return code

    def log(self) -> str:
        return (Path(self.data_dir) / "serve.log").read_text(errors="replace")[-4000:]

    def create_user(self, name: str) -> str:
        out = subprocess.run(
            [*BIT, "admin", "create-user", name, "--data-dir", self.data_dir],
            capture_output=True,
            text=True,
            env=base_env(),
            timeout=60,
        )
        assert out.returncode == 0, out.stderr + out.stdout
        creds = json.loads(out.stdout)
        assert creds["username"] == name
        return str(creds["api_key"])


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    # Imports by URL reach the tests' file servers on 127.0.0.1.
    srv = Server(
        make_data_dir("bitio-e2e-"),
        free_port(),
        free_port(),
        env={"BITIO_IMPORT_ALLOW_PRIVATE_URLS": "1"},
    )
    srv.start()
    try:
        yield srv
    finally:
        if srv.process and srv.process.poll() is None:
            srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def cli_env(server: Server) -> dict[str, str]:
    return base_env(
        BITIO_API_URL=server.api_url,
        BITIO_DB_HOST=server.db_host,
        BITIO_DB_PORT=str(server.db_port),
    )


ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "bitdotio-2.2.1"


@pytest.fixture(scope="session")
def original_python() -> str:
    """A venv with bitdotio==2.2.1 (and the requests-toolbelt it imports but does not declare)."""
    python = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "bitdotio==2.2.1",
                "requests-toolbelt",
                "psycopg2-binary",
            ],
            check=True,
        )
        (VENV / ".installed").touch()
    return str(python)
