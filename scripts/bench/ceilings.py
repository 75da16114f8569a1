"""This machine's own limits, measured first: nginx answering a static 204 (and the CPU nginx
and oha spend on each), the same 204 through nginx's proxying (what proxying adds to nginx's
CPU per request), durable batched INSERTs into MariaDB, and Redis operations. The targets are
ratios to them."""

import csv
import subprocess
import threading
import time
import urllib.parse

from scripts.bench.load import oha
from scripts.bench.settings import SECONDS_MAX
from scripts.common.processes import children_seconds, cpu_seconds, stack_processes
from scripts.common.stores import mysql_connect


def measure(stack: int, entry: str, mysql_url: str, redis_url: str) -> tuple[dict[str, float], dict[str, float]]:
    """The ceilings by name, and the edge's CPU seconds per request: nginx (under the stack's
    supervisor, pid `stack`) and oha per static 204 ("static"), and what nginx spends more per
    204 when it proxies it ("proxy")."""
    nginx = stack_processes(stack, ("nginx",))

    def edge(path: str) -> tuple[dict, float, float]:
        """oha's run at `path`, and nginx's and oha's CPU seconds per answer."""
        nginx_before, oha_before = cpu_seconds(nginx)["nginx"], children_seconds()
        run = oha(f"{entry}{path}", seconds=SECONDS_MAX, post=False)
        answers = max(run["ok"], 1)
        return run, (cpu_seconds(nginx)["nginx"] - nginx_before) / answers, (children_seconds() - oha_before) / answers

    static, static_nginx, static_oha = edge("/__static_204")
    proxied, proxied_nginx, _ = edge("/__proxied_204")
    ceilings = {
        "nginx static 204 (req/s)": static["rps"],
        "nginx proxying a static 204 (req/s)": proxied["rps"],
        "MariaDB durable batched INSERT (rows/s)": mariadb_ceiling(mysql_url),
        "Redis INCR, pipelined (ops/s)": redis_ceiling(redis_url),
    }
    return ceilings, {"static": static_nginx + static_oha, "proxy": proxied_nginx - static_nginx}


def mariadb_ceiling(url: str, seconds: int = 10, threads: int = 4, batch: int = 500) -> float:
    """Rows/s of durable 500-row INSERTs from 4 connections, into a copy of the grades table."""
    with mysql_connect(url) as db, db.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_ceiling LIKE grades")
        cur.execute("ALTER TABLE bench_ceiling DROP FOREIGN KEY IF EXISTS fk_grades_course")
        db.commit()
    values = ",".join(["(233233,'Alumno 1','SO1',90,'2S',2023,'grpc')"] * batch)
    sql = f"INSERT INTO bench_ceiling (carnet, nombre, curso, nota, semestre, year, route) VALUES {values}"
    done = []
    deadline = time.time() + seconds

    def insert():
        n = 0
        with mysql_connect(url) as db, db.cursor() as cur:
            while time.time() < deadline:
                cur.execute(sql)
                db.commit()
                n += batch
        done.append(n)

    workers = [threading.Thread(target=insert) for _ in range(threads)]
    start = time.time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    rows_per_s = sum(done) / (time.time() - start)
    # Its rows, over a million, would otherwise share MariaDB's buffer pool with the tables measured next.
    with mysql_connect(url) as db, db.cursor() as cur:
        cur.execute("DROP TABLE bench_ceiling")
    return rows_per_s


def redis_ceiling(url: str) -> float:
    """Pipelined INCRs a second (redis-benchmark, 200,000 of them, 16 to a pipeline)."""
    # redis-benchmark 7.0 refuses `-u redis://:PASSWORD@host` (it exits 1, saying nothing) and
    # reads no REDISCLI_AUTH: the stack's password, new at each start, goes in `-a` (its warning
    # about that goes to stderr, not read).
    u = urllib.parse.urlparse(url)
    auth = ["-a", urllib.parse.unquote(u.password)] if u.password else []
    out = subprocess.run(
        ["redis-benchmark", "-h", u.hostname, "-p", str(u.port or 6379), *auth]
        + ["--csv", "-n", "200000", "-P", "16", "-t", "incr"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # A header, then one row per test: "test","rps","avg_latency_ms",...
    (row,) = csv.DictReader(out.splitlines())
    return float(row["rps"])
