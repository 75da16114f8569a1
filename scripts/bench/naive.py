"""The naive baseline batching is judged against: another redis-api on the same stores that
writes one grade per transaction (BATCH_MAX_SIZE=1), 16 transactions at a time, as a
connection pool would."""

import os
import subprocess
import sys

from scripts.bench.load import oha
from scripts.bench.routes import sustained
from scripts.stack import ROOT, free_port, wait_for


def naive_baseline(env: dict[str, str], procs: dict[str, list[int]]) -> dict:
    """The naive redis-api's highest sustained rate, its CPU counted with route 2's."""
    port = free_port()
    naive_env = {
        **os.environ,
        "LISTEN_ADDR": f"127.0.0.1:{port}",
        "MYSQL_URL": env["MYSQL_URL"],
        "REDIS_URL": env["REDIS_URL"],
        "RUST_LOG": "warn",
        "TOKIO_WORKER_THREADS": "1",
        "BATCH_MAX_SIZE": "1",
        "BATCH_CONCURRENCY": "16",
    }
    naive = subprocess.Popen(
        [str(ROOT / "target/release/redis-api")], env=naive_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if wait_for({"naive": f"http://127.0.0.1:{port}/readyz"}, 60, alive=lambda: naive.poll() is None):
            sys.exit("bench: the naive redis-api did not become ready")
        url = f"http://127.0.0.1:{port}/notas"
        oha(url, seconds=2)
        result = sustained(url, {**procs, "redis-api": procs["redis-api"] + [naive.pid]}, env["MYSQL_URL"])
        result["rates"] = {}
        return result
    finally:
        naive.terminate()
        naive.wait(timeout=30)
