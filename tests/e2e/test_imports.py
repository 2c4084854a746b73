"""Import jobs against a real ``bit serve``: the original 2.2.1 package, ``bit import``, and the
job system's faults (a worker killed mid-import, a restart with queued jobs)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import make_data_dir
from tests.e2e.conftest import BIT, Server, base_env, free_port
from tests.e2e.test_original_sdk import run_original
from tests.file_server import serving

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
CITIES = "name,population\nParis,2100000\nLyon,520000\n"


@pytest.fixture(scope="module")
def file_url() -> Iterator[str]:
    with serving(CITIES.encode(), "cities.csv") as url:
        yield url


def api(server: Server, key: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(
        method,
        f"{server.api_url}{path}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        **kwargs,
    )
    assert response.status_code < 300, response.text
    return response.json()


def wait(server: Server, key: str, job: dict[str, Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while job["state"] not in ("DONE", "FAILED"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = api(server, key, "GET", f"/import/{job['id']}")
    return job


def test_original_2_2_1_imports_by_file_and_by_url(
    original_python: str, server: Server, file_url: str, tmp_path: Path
) -> None:
    key = server.create_user("legacyimport")
    (tmp_path / "city.csv").write_text(CITIES)
    result = run_original(
        original_python,
        HERE / "original_import.py",
        server.api_url,
        key,
        "imports",
        str(tmp_path / "city.csv"),
        file_url,
    )
    assert result["created"]["state"] == "RECEIVED"
    assert result["by_file"]["state"] == "DONE", result["by_file"]
    assert result["by_url"]["state"] == "DONE", result["by_url"]
    assert result["rows"] == [["Paris", 2100000], ["Lyon", 520000]] * 2


def run_bit(server: Server, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(BITIO_API_URL=server.api_url, BITIO_KEY=key)
    return subprocess.run([*BIT, *args], capture_output=True, text=True, env=env, timeout=120)


def test_bit_import(server: Server, file_url: str, tmp_path: Path) -> None:
    key = server.create_user("cliimport")
    api(server, key, "POST", "/db/", json={"name": "data"})
    path = tmp_path / "cities.csv"
    path.write_text(CITIES)
    done = run_bit(server, key, "import", "-d", "cliimport/data", "-t", "cities", str(path))
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["state"] == "DONE" and job["result"]["tables"][0]["rows"] == 2
    assert "Uploading" in done.stderr  # the progress bar, on stderr

    queued = run_bit(
        server,
        key,
        "import",
        "-d",
        "cliimport/data",
        "-t",
        "remote",
        "--url",
        file_url,
        "--schema",
        "web",
        "--header",
        "first_row",
        "--no-wait",
    )
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["state"] in ("RECEIVED", "PROCESSING", "DONE")
    assert wait(server, key, json.loads(queued.stdout))["state"] == "DONE"

    path.write_bytes(b"PK\x03\x04 this is not a zip file")
    failed = run_bit(server, key, "import", "-d", "cliimport/data", "-t", "bad", str(path))
    assert failed.returncode == 1
    job = json.loads(failed.stdout)
    assert job["state"] == "FAILED" and job["error_type"] and job["error_id"]


def _big_csv(path: Path, rows: int) -> None:
    with path.open("w") as fh:
        fh.write("id,name,amount,day\n")
        for i in range(rows):
            fh.write(f"{i},name number {i},{i * 1.5:.2f},2024-01-{i % 28 + 1:02d}\n")


BIG_ROWS = 1_500_000  # about 60 MB: an import that outlasts the 0.3 s before the stop


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.csv"
    _big_csv(path, BIG_ROWS)
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_a_worker_stopped_mid_import_is_replaced_and_loads_once(
    big_csv: Path, sig: signal.Signals
) -> None:
    """SIGKILL: the sweep finds the dead worker by its heartbeat. SIGTERM with a short grace:
    the running job is cancelled, and the sweep re-queues it after the restart."""
    env = {
        "BITIO_WORKER_HEARTBEAT_S": "0.5",
        "BITIO_WORKER_STALLED_AFTER_S": "2",
        "BITIO_PROXY_SHUTDOWN_GRACE_S": "0.1",
    }
    srv = Server(make_data_dir("bitio-kill-"), free_port(), free_port(), env=env)
    try:
        srv.start()
        key = srv.admin_key
        api(srv, key, "POST", "/db/", json={"name": "big"})
        with big_csv.open("rb") as fh:
            job = api(
                srv,
                key,
                "POST",
                "/db/admin/big/import/",
                data={"table_name": "t"},
                files={"file": ("t", fh)},
            )
        deadline = time.monotonic() + 30
        while job["state"] == "RECEIVED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
            job = api(srv, key, "GET", f"/import/{job['id']}")
        time.sleep(0.3)  # into the parse or the COPY
        assert srv.stop(sig) == (-signal.SIGKILL if sig == signal.SIGKILL else 0)
        restarted = Server(srv.data_dir, free_port(), free_port(), env=env)
        restarted.start()
        try:
            done = wait(restarted, key, job, timeout_s=90)
            assert done["state"] == "DONE", done
            assert done["retries"] == 1, done
            count = api(
                restarted,
                key,
                "POST",
                "/query",
                json={"database_name": "admin/big", "query_string": "SELECT count(*) FROM t"},
            )
            assert count["data"] == [[BIG_ROWS]]
        finally:
            restarted.stop()
    finally:
        shutil.rmtree(srv.data_dir, ignore_errors=True)


def test_queued_jobs_survive_a_restart() -> None:
    srv = Server(
        make_data_dir("bitio-queue-"), free_port(), free_port(), env={"BITIO_COMPONENTS": "api"}
    )
    try:
        srv.start()
        key = srv.admin_key
        api(srv, key, "POST", "/db/", json={"name": "q"})
        job = api(
            srv,
            key,
            "POST",
            "/db/admin/q/import/",
            data={"table_name": "t"},
            files={"file": ("t", CITIES.encode())},
        )
        time.sleep(1)
        assert api(srv, key, "GET", f"/import/{job['id']}")["state"] == "RECEIVED"
        assert srv.stop() == 0
        restarted = Server(srv.data_dir, free_port(), free_port())
        restarted.start()
        try:
            assert wait(restarted, key, job)["state"] == "DONE"
        finally:
            restarted.stop()
    finally:
        shutil.rmtree(srv.data_dir, ignore_errors=True)


def test_a_separate_worker_process_runs_the_jobs(tmp_path: Path) -> None:
    """``bit serve --only api`` plus ``bit serve --only worker`` on the same data directory."""
    srv = Server(
        make_data_dir("bitio-split-"), free_port(), free_port(), env={"BITIO_COMPONENTS": "api"}
    )
    worker = None
    try:
        srv.start()
        key = srv.admin_key
        api(srv, key, "POST", "/db/", json={"name": "w"})
        worker = subprocess.Popen(
            [*BIT, "serve", "--only", "worker", "--data-dir", srv.data_dir],
            env=base_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        job = api(
            srv,
            key,
            "POST",
            "/db/admin/w/import/",
            data={"table_name": "t"},
            files={"file": ("t", CITIES.encode())},
        )
        assert wait(srv, key, job)["state"] == "DONE"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        srv.stop()
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        if srv.process is not None and srv.process.poll() is None:
            srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
