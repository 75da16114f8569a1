"""`python -m scripts.bench`: the run's order. A fresh stack of release builds in .dev/bench, warmed up,
the ceilings, the routes, route 3's search, the naive baseline, the instructions per record,
the large table, then BENCHMARKS.md and benchmarks.png; the stack is stopped whatever happens."""

import os
import shutil
import subprocess
import sys
import time

from scripts.bench import ceilings, routes
from scripts.bench.callgrind import instructions
from scripts.bench.figures import rate_of
from scripts.bench.load import log, oha, summary_rows_in_bodies, write_bodies
from scripts.bench.naive import naive_baseline
from scripts.bench.queue import drain_queue, keep_up
from scripts.bench.report import write
from scripts.bench.seeded import report_times, seed
from scripts.bench.settings import (
    LARGE,
    NAIVE,
    QUEUE,
    ROUTE1,
    ROUTE2,
    SECONDS_MAX,
    SERVICES,
    SPLIT,
    SPLIT_CONNECTIONS,
    STATE,
)
from scripts.common.processes import busy_seconds, own_seconds, stack_processes
from scripts.common.stores import student_rows
from scripts.stack import read_env, read_ports, start, wait_for_summaries, wait_until_ready


def start_stack() -> subprocess.Popen:
    """A fresh stack of release builds with its own MariaDB and Redis, in .dev/bench."""
    shutil.rmtree(STATE, ignore_errors=True)
    # The bench measures the stack's own ceiling from one address: without the edge's
    # per-address rate limit, which would cap it.
    env = {**os.environ, "NOTAS_PROFILE": "release", "RUST_LOG": "warn", "NOTAS_EDGE_RATE_LIMIT": "off"}
    env.pop("MYSQL_URL", None)
    env.pop("REDIS_URL", None)
    log = STATE / "stack.log"
    stack = start(STATE, env, log)
    if wait_until_ready(STATE, seconds=240, alive=lambda: stack.poll() is None):
        sys.exit(f"bench: the stack did not come up; see {log}")
    return stack


def fill_summaries(url: str, mysql_url: str, rounds: int = 10) -> None:
    """Posts through `url`, in at most `rounds` runs, until the report summaries hold 99% of the
    students' rows the bodies make. A grade whose rows exist updates them and moves their
    ranking-index entries, which costs MariaDB more than inserting them: without this the first
    route measured, on empty summaries, would cost about a sixth less per record than those after it."""
    made = summary_rows_in_bodies()
    for _ in range(rounds):
        if (rows := student_rows(mysql_url)) >= 0.99 * made:
            return
        log(f"warming up: the summaries hold {rows:,} of the bodies' {made:,} students' rows")
        oha(url, seconds=SECONDS_MAX, connections=SPLIT_CONNECTIONS)
        wait_for_summaries(mysql_url)
    log(f"warming up: the summaries still hold {student_rows(mysql_url):,} of {made:,} students' rows")


def main() -> None:
    if not shutil.which("oha"):
        sys.exit("bench: oha is missing (cargo install --locked oha; `just bench` does it)")
    began, busy_before, load_before = time.time(), busy_seconds(), os.getloadavg()
    stack = start_stack()
    try:
        ports, env = read_ports(STATE), read_env(STATE)
        # The migration user's URL: the ceiling and the seed create and drop tables.
        entry, mysql_url = env["NOTAS_URL"], read_env(STATE, "migrate.env")["MYSQL_URL"]
        brokers = env["KAFKA_BROKERS"]
        static_url = f"{entry}/__static_204"
        # The services that flush batches: grpc-client (its calls to grpc-server) and the writers.
        flush_urls = {
            name: f"http://127.0.0.1:{ports[port]}/metrics"
            for name, port in (
                ("grpc-client", "grpc-client"),
                ("grpc-server", "grpc-server-admin"),
                ("redis-api", "redis-api"),
            )
        }
        targets = {
            ROUTE1: f"http://127.0.0.1:{ports['grpc-client']}/notas",
            ROUTE2: f"http://127.0.0.1:{ports['redis-api']}/notas",
            SPLIT: f"{entry}/notas",
            QUEUE: f"http://127.0.0.1:{ports['queue-api']}/notas",
        }
        write_bodies()
        log("warming up")
        for url in targets.values():
            oha(url, seconds=2)
        drain_queue(brokers)
        fill_summaries(targets[SPLIT], mysql_url)

        log("ceilings")
        found, edge_cpu = ceilings.measure(stack.pid, entry, mysql_url, env["REDIS_URL"])
        procs = lambda: stack_processes(stack.pid, SERVICES)  # noqa: E731
        results = routes.measure(targets, procs, mysql_url, brokers, static_url, flush_urls)
        results[QUEUE]["keep_up"] = keep_up(targets[QUEUE], rate_of(results[QUEUE]), mysql_url, brokers)
        log(f"{NAIVE}: highest sustained rate")
        naive = naive_baseline(env, procs())
        if shutil.which("valgrind") and shutil.which("callgrind_control"):
            counted = instructions(env, mysql_url)
        else:
            log("valgrind is missing: no instruction counts (apt install valgrind)")
            counted = None

        log(f"seeding {LARGE:,} grades")
        started = time.time()
        seed(mysql_url, LARGE)
        seeded_s = time.time() - started
        reports = report_times(f"http://127.0.0.1:{ports['dashboard-api']}")
        log(f"{SPLIT}: highest sustained rate with {LARGE:,} grades stored")
        large = routes.sustained(targets[SPLIT], procs(), mysql_url, connections=SPLIT_CONNECTIONS)
        # What the machine did besides this run: every core's busy time, less this run's own.
        seconds = time.time() - began
        others = busy_seconds() - busy_before - own_seconds(stack.pid)
        machine = {
            "seconds": seconds,
            "others": others,
            "load": load_before,
            "static_cpu": edge_cpu["static"],
            "proxy_cpu": edge_cpu["proxy"],
        }
        write(found, results, naive, {"seconds": seeded_s, "split": large, "reports": reports}, machine, counted)
    finally:
        os.killpg(stack.pid, 15)
        stack.wait(timeout=60)


if __name__ == "__main__":
    main()
