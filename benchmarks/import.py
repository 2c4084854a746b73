"""An import job end to end through the API, against ``psql \\copy`` of the same file.

Run: ``.venv/bin/python benchmarks/import.py`` (``make bench-import``). ``--help`` for knobs.

Method
------
1. Generate a CSV of ``--mb`` MB (default 200): ints, decimals, floats, text, ISO dates and
   booleans (``benchmarks/_csvgen.py``).
2. ``bit serve`` on a scratch data directory with its defaults (fsync on, embedded Postgres).
   The database ``admin/bench`` is made through the API.
3. In rotated rounds on the same server and database:

   * ``ours``: ``create_import_job`` with the file (our SDK: a streamed multipart upload), then
     ``get_import_job`` every 0.2 s until DONE. Timed from the first byte sent to the job's
     ``date_finished`` (the server runs on this machine, so one clock): upload, type inference
     over the whole file, the COPY streams and the commit. The time to the poll that saw DONE
     (up to 0.2 s later) is reported beside it. Each round makes a new table.
   * ``psql \\copy``: ``psql`` over the embedded Postgres's Unix socket into a table created
     beforehand (in its own transaction) with the column types our import inferred, ``FORMAT
     csv, HEADER``. Timed around the psql process.

4. With ``--rss-mb`` (default 1024), a second pass measures the worker's memory: the server runs
   with ``--only api`` and a separate ``bit serve --only worker`` process imports a file of that
   size; its peak RSS (``VmHWM``) is read from ``/proc`` when the job is DONE.

The ratio is psql's time over ours (higher is better for us; goal >= 1.0).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _csvgen import write_csv
from _embedded import bench_physical_name, peak_rss_kb, psql, start_worker
from http_query import Ours, stop

from bitdotio.sdk import BitdotioClient

RATIO_GOAL = 1.0
RSS_GOAL_MB = 300


def wait_done(sdk: BitdotioClient, job: dict[str, Any]) -> dict[str, Any]:
    while job["state"] not in ("DONE", "FAILED"):
        time.sleep(0.2)
        job = sdk.get_import_job(job["id"])
    if job["state"] != "DONE":
        raise RuntimeError(f"import failed: {job}")
    return job


def import_once(sdk: BitdotioClient, path: Path, table: str) -> tuple[float, float, dict[str, Any]]:
    """Seconds from the first byte sent to the job's ``date_finished`` (the server's clock,
    this machine's), and to the poll that saw it DONE; the job."""
    started = time.time()
    with path.open("rb") as fh:
        job = sdk.create_import_job("admin/bench", table, file=fh)
    done = wait_done(sdk, job)
    seen = time.time() - started
    finished = datetime.fromisoformat(done["date_finished"]).timestamp() - started
    return finished, seen, done


def copy_once(ours: Ours, dbname: str, path: Path, like: str, table: str) -> float:
    psql(ours, dbname, f"CREATE TABLE {table} (LIKE {like})")
    started = time.monotonic()
    psql(ours, dbname, f"\\copy {table} FROM '{path}' (FORMAT csv, HEADER true)")
    return time.monotonic() - started


def throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    path = work / "bench.csv"
    rows = write_csv(path, args.mb * 1_000_000)
    size_mb = path.stat().st_size / 1e6
    print(f"generated {size_mb:.0f} MB, {rows} rows", flush=True)
    ours = Ours(
        str(work / "data"), work, extra_env={"BITIO_IMPORT_COPY_STREAMS": str(args.streams)}
    )
    ours.start()
    try:
        ours.api("POST", "/db/", {"name": "bench"})
        sdk = BitdotioClient(ours.admin_key, api_url=f"{ours.url}/v2beta", timeout=600)
        dbname = bench_physical_name(ours)
        # Warm-up: the first import also pays for loading the readers.
        _, _, first = import_once(sdk, path, "warmup")
        print(f"warm-up: {first['result']['tables']}", flush=True)
        times: dict[str, list[float]] = {"ours": [], "ours_polled": [], "psql": []}
        for round_ in range(args.rounds):
            order = ["ours", "psql"] if round_ % 2 == 0 else ["psql", "ours"]
            for case in order:
                if case == "ours":
                    elapsed, seen, _ = import_once(sdk, path, f"ours_{round_}")
                    times["ours_polled"].append(seen)
                    note = f" (DONE seen by polling after {seen:.2f} s)"
                else:
                    elapsed = copy_once(ours, dbname, path, "warmup", f"anchor_{round_}")
                    note = ""
                times[case].append(elapsed)
                print(f"round {round_} {case}: {elapsed:.2f} s{note}", flush=True)
            psql(ours, dbname, f"DROP TABLE ours_{round_}, anchor_{round_}")
        sdk.close()
    finally:
        ours.stop()
    ours_s = statistics.median(times["ours"])
    polled_s = statistics.median(times["ours_polled"])
    psql_s = statistics.median(times["psql"])
    return {
        "size_mb": size_mb,
        "ours_s": ours_s,
        "psql_s": psql_s,
        "ours_mb_s": size_mb / ours_s,
        "psql_mb_s": size_mb / psql_s,
        "ratio": psql_s / ours_s,
        "ratio_polled": psql_s / polled_s,
    }


def peak_rss(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    path = work / "rss.csv"
    write_csv(path, args.rss_mb * 1_000_000)
    ours = Ours(str(work / "rss-data"), work, extra_env={"BITIO_COMPONENTS": "api"})
    ours.start()
    worker = None
    try:
        ours.api("POST", "/db/", {"name": "bench"})
        worker = start_worker(ours, work / "worker.err")
        sdk = BitdotioClient(ours.admin_key, api_url=f"{ours.url}/v2beta", timeout=1200)
        elapsed, _, _ = import_once(sdk, path, "big")
        hwm_kb = peak_rss_kb(worker.pid)
        sdk.close()
    finally:
        stop(worker)
        ours.stop()
    size_mb = path.stat().st_size / 1e6
    return {"size_mb": size_mb, "seconds": elapsed, "peak_rss_mb": hwm_kb / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the CSV (MB)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=2, help="import-copy-streams of ours")
    parser.add_argument("--rss-mb", type=int, default=1024, help="file for the RSS pass; 0: skip")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory and logs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bitio-bench-import-"))
    work.chmod(0o711)  # the embedded Postgres runs as its own system user
    try:
        result = throughput(args, work)
        print(
            f"\n{result['size_mb']:.0f} MB CSV: ours {result['ours_s']:.2f} s "
            f"({result['ours_mb_s']:.0f} MB/s), psql \\copy {result['psql_s']:.2f} s "
            f"({result['psql_mb_s']:.0f} MB/s): ratio {result['ratio']:.2f}x "
            f"(goal >= {RATIO_GOAL}); {result['ratio_polled']:.2f}x to the poll that saw DONE",
            flush=True,
        )
        if args.rss_mb:
            rss = peak_rss(args, work)
            print(
                f"{rss['size_mb']:.0f} MB CSV through a separate worker: {rss['seconds']:.1f} s, "
                f"peak RSS {rss['peak_rss_mb']:.0f} MB (goal < {RSS_GOAL_MB})",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
