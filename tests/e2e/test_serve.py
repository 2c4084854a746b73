"""``bit serve``: first start, restart on an existing data dir, signals, crash recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import make_data_dir
from tests.e2e.conftest import BIT, Server, base_env, free_port

pytestmark = pytest.mark.e2e


def pg_running(data_dir: str) -> bool:
    pid_file = os.path.join(data_dir, "pg", "postmaster.pid")
    if not os.path.exists(pid_file):
        return False
    pid = int(Path(pid_file).read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_healthz_and_openapi(server: Server) -> None:
    health = requests.get(f"{server.base_url}/healthz", timeout=5)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["checks"]["postgres"] == "ok"
    spec = requests.get(f"{server.base_url}/openapi.json", timeout=5).json()
    assert "/v2beta/query" in spec["paths"] and "/v2beta/db" in spec["paths"]


def test_first_start_printed_the_admin_credentials_once(server: Server) -> None:
    assert server.admin_username == "admin"
    assert server.admin_key.startswith("v2_")
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    assert requests.get(f"{server.api_url}/db/", headers=headers, timeout=5).status_code == 200
    assert server.admin_key not in server.log()  # the key is printed, never logged


def test_admin_create_user_while_serving(server: Server) -> None:
    key = server.create_user("carol")
    response = requests.get(
        f"{server.api_url}/db/", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert response.json() == {"databases": []}
    again = subprocess.run(
        [*BIT, "admin", "create-user", "carol", "--data-dir", server.data_dir],
        capture_output=True,
        text=True,
        env=base_env(),
    )
    assert again.returncode == 3 and "already exists" in again.stderr
    bad = subprocess.run(
        [*BIT, "admin", "create-user", "Bad Name", "--data-dir", server.data_dir],
        capture_output=True,
        text=True,
        env=base_env(),
    )
    assert bad.returncode == 3 and "Invalid username" in bad.stderr


def test_restart_keeps_data_and_stops_postgres_on_sigterm() -> None:
    srv = Server(make_data_dir("bitio-restart-"), free_port(), free_port())
    try:
        srv.start()
        headers = {"Authorization": f"Bearer {srv.admin_key}"}
        created = requests.post(
            f"{srv.api_url}/db/", json={"name": "keep"}, headers=headers, timeout=30
        )
        assert created.status_code == 201
        assert srv.stop(signal.SIGTERM) == 0
        assert not pg_running(srv.data_dir)

        restarted = Server(srv.data_dir, free_port(), free_port())
        seconds = restarted.start()
        assert restarted.admin_key == ""  # shown on the first start only
        print(f"restart on an existing data dir: healthy after {seconds:.2f}s")
        listed = requests.get(f"{restarted.api_url}/db/", headers=headers, timeout=5).json()
        assert [d["name"] for d in listed["databases"]] == ["admin/keep"]

        second = subprocess.run(
            [*BIT, "serve", "--data-dir", srv.data_dir, "--http-port", str(free_port())],
            capture_output=True,
            text=True,
            env=base_env(),
            timeout=60,
        )
        assert second.returncode == 3 and "already using" in second.stderr

        assert restarted.stop(signal.SIGINT) == 0
        assert not pg_running(srv.data_dir)
    finally:
        shutil.rmtree(srv.data_dir, ignore_errors=True)


def test_recovers_from_a_crash_and_a_stale_pid_file() -> None:
    srv = Server(make_data_dir("bitio-crash-"), free_port(), free_port())
    try:
        srv.start()
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        # The orphaned Postgres is adopted by the next start.
        adopted = Server(srv.data_dir, free_port(), free_port())
        adopted.start()
        assert adopted.stop() == 0
        # A postmaster.pid naming a live non-Postgres process (pid reuse after a crash).
        with open(os.path.join(srv.data_dir, "pg", "postmaster.pid"), "w") as fh:
            fh.write(f"{os.getpid()}\n{srv.data_dir}/pg\n")
        recovered = Server(srv.data_dir, free_port(), free_port())
        recovered.start()
        headers = {"Authorization": f"Bearer {srv.admin_key}"}
        assert requests.get(f"{recovered.api_url}/db/", headers=headers, timeout=5).ok
        assert recovered.stop() == 0
    finally:
        shutil.rmtree(srv.data_dir, ignore_errors=True)


def test_admin_create_user_without_a_server() -> None:
    data_dir = make_data_dir("bitio-admin-")
    try:
        out = subprocess.run(
            [*BIT, "admin", "create-user", "dave", "--data-dir", data_dir],
            capture_output=True,
            text=True,
            env=base_env(),
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["username"] == "dave"
        assert not pg_running(data_dir)  # started for the command, stopped after
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
