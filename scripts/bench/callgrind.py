"""Instructions per record (callgrind, valgrind's instruction counter), the steady measure
that does not drift with the machine: one extra instance of each service binary under
callgrind on the stack's stores, a fixed mix of grades from a fixed seed posted to each
route, each writer batching exactly as many grades as are posted at a time."""

import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from scripts.bench.load import log
from scripts.bench.queue import drain
from scripts.bench.routes import BATCH_HISTOGRAMS, batch_counts
from scripts.bench.settings import STATE
from scripts.common.broker import QueueBacklog
from scripts.common.grades import random_grade
from scripts.common.stores import grade_count
from scripts.stack import ROOT, free_port, wait_for

# Instructions per record (callgrind): a fixed mix of grades, from a fixed seed, posted to one
# extra instance of each service binary under callgrind in rounds of CG_CONCURRENCY requests
# (written back to back, the next round once all are answered). Every writer under
# callgrind batches exactly CG_CONCURRENCY grades (BATCH_MAX_SIZE, waiting up to
# BATCH_MAX_WAIT_MS for them), so the batches do not depend on the machine's speed; the
# stack's own writers catch the report summaries up (SUMMARY_INTERVAL_MS: the instances under
# callgrind run their summarizer once, at start).
CG_GRADES, CG_WARMUP, CG_CONCURRENCY, CG_SEED = 2000, 200, 8, 22
CG_PASSES = 3  # the mix sent this many times to each route, each pass counted on its own; the median kept
CG_SECONDS_IDLE = 5  # each service's instructions a second while idle, measured at the end
CG_SETTINGS = {"BATCH_MAX_SIZE": str(CG_CONCURRENCY), "BATCH_MAX_WAIT_MS": "1000", "SUMMARY_INTERVAL_MS": "60000"}
# Each route's services under callgrind; the first is the one posted to.
CG_ROUTES = {
    "route 1 (grpc)": ("grpc-client", "grpc-server"),
    "route 2 (redis)": ("redis-api",),
    "route 3 (queue)": ("queue-api", "grade-consumer"),
}


class Callgrind:
    """One service binary (target/release/`name`) under callgrind, with `env`; its dumps go
    to `folder`/`name`.out.N, its valgrind log to `folder`/`name`.log."""

    def __init__(self, name: str, env: dict[str, str], folder: Path):
        self.name, self.out = name, folder / f"{name}.out"
        with open(folder / f"{name}.log", "w") as log_file:
            self.proc = subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={self.out}",
                    str(ROOT / "target/release" / name),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )

    def control(self, flag: str) -> None:
        subprocess.run(["callgrind_control", flag, str(self.proc.pid)], check=True, capture_output=True, timeout=120)

    def zero(self) -> None:
        self.control("-z")

    def dump(self) -> int:
        """The instructions (Ir) run since the last zero or dump; a dump zeroes them too."""
        dumps = lambda: {p for p in self.out.parent.glob(self.out.name + ".*") if p.suffix[1:].isdigit()}  # noqa: E731
        before = dumps()
        self.control("-d")
        deadline = time.time() + 60
        while time.time() < deadline:
            for path in dumps() - before:
                text = path.read_text()
                if "\ntotals:" in text:  # the file's last line: the dump is complete
                    return int(next(line for line in text.splitlines() if line.startswith("summary:")).split()[1])
            time.sleep(0.1)
        sys.exit(f"bench: callgrind wrote no dump of {self.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def post_mix(url: str, bodies: list[bytes], ok: int) -> None:
    """`bodies` POSTed to `url` in rounds of CG_CONCURRENCY over as many keep-alive connections:
    a round's requests are written back to back, then its answers read, then the next round.
    Exits unless every answer is `ok`."""
    u = urllib.parse.urlparse(url)
    conns = [http.client.HTTPConnection(u.hostname, u.port, timeout=120) for _ in range(CG_CONCURRENCY)]
    failures = []
    try:
        for first in range(0, len(bodies), CG_CONCURRENCY):
            round_ = list(zip(conns, bodies[first : first + CG_CONCURRENCY]))
            for conn, body in round_:
                conn.request("POST", u.path, body, {"content-type": "application/json"})
            for conn, _ in round_:
                answer = conn.getresponse()
                text = answer.read()
                if answer.status != ok:
                    failures.append(f"{answer.status} {text[:200]!r}")
    finally:
        for conn in conns:
            conn.close()
    if failures:
        sys.exit(f"bench: {url} answered {len(failures)} of {len(bodies)} grades with other than {ok}: {failures[0]}")


def instructions(env: dict[str, str], mysql_url: str, topic: str = "bench-callgrind") -> dict:
    """Instructions per record of each service (callgrind's Ir), on the fixed mix: one extra
    instance of each service binary on the stack's stores, under callgrind (grpc-client
    calling the grpc-server under callgrind; queue-api and grade-consumer on a topic and in a
    consumer group of their own, `topic`). Per route: CG_WARMUP grades, then CG_PASSES times:
    the counters zeroed, CG_GRADES grades (on route 3 until the consumer has committed them
    all), a dump. Then each service's instructions a second while idle, over CG_SECONDS_IDLE s.
    Returns, per route, each pass's instructions per service, rows stored and seconds taken,
    and per service its idle instructions a second."""
    folder = STATE / "callgrind"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ports = {name: free_port() for name in ("grpc-server", "grpc-server-admin", *sum(CG_ROUTES.values(), ()))}
    base = {
        **os.environ,
        **{k: env[k] for k in ("MYSQL_URL", "REDIS_URL", "KAFKA_BROKERS", "TOKIO_WORKER_THREADS")},
        "RUST_LOG": "warn",
        **CG_SETTINGS,
    }
    queue = {"KAFKA_TOPIC": topic, "KAFKA_DEAD_LETTER_TOPIC": f"{topic}.dead-letter", "KAFKA_GROUP": topic}
    settings = {
        "grpc-server": {"ADMIN_ADDR": f"127.0.0.1:{ports['grpc-server-admin']}"},
        "grpc-client": {"GRPC_SERVER_URL": f"http://127.0.0.1:{ports['grpc-server']}"},
        "redis-api": {},
        "queue-api": queue,
        "grade-consumer": queue,
    }
    envs = {name: {**base, **extra, "LISTEN_ADDR": f"127.0.0.1:{ports[name]}"} for name, extra in settings.items()}
    # The topics first, as the stack's first consumer makes its own.
    subprocess.run(
        [str(ROOT / "target/release/grade-consumer"), "--create-topics"],
        env=envs["grade-consumer"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    rng = random.Random(CG_SEED)
    warmup = [json.dumps(random_grade(rng)).encode() for _ in range(CG_WARMUP)]
    mix = [json.dumps(random_grade(rng)).encode() for _ in range(CG_GRADES)]
    services = {name: Callgrind(name, envs[name], folder) for name in settings}
    try:
        admin = {"grpc-server": ports["grpc-server-admin"]}
        ready = {name: f"http://127.0.0.1:{admin.get(name, ports[name])}/readyz" for name in services}
        metrics_urls = {name: url.replace("/readyz", "/metrics") for name, url in ready.items()}
        alive = lambda: all(s.proc.poll() is None for s in services.values())  # noqa: E731
        if pending := wait_for(ready, 300, alive=alive):
            sys.exit(f"bench: under callgrind, {', '.join(pending)} did not become ready (logs in {folder})")
        backlog = QueueBacklog(env["KAFKA_BROKERS"], group=topic, topic=topic, dead_letters=f"{topic}.dead-letter")
        routes = {}
        for route, names in CG_ROUTES.items():
            queued = route.startswith("route 3")
            url, ok = f"http://127.0.0.1:{ports[names[0]]}/notas", 202 if queued else 201
            post_mix(url, warmup, ok)
            if queued:
                drain(backlog)
            routes[route] = []
            flushers = {name: metrics_urls[name] for name in names if name in BATCH_HISTOGRAMS}
            for n in range(CG_PASSES):
                log(f"instructions per record, {route}, pass {n + 1} of {CG_PASSES} (callgrind)")
                rows_before, batches_before = grade_count(mysql_url), batch_counts(flushers)
                for name in names:
                    services[name].zero()
                began = time.time()
                post_mix(url, mix, ok)
                if queued:
                    drain(backlog)
                seconds = time.time() - began
                counts = {name: services[name].dump() for name in names}
                rows = grade_count(mysql_url) - rows_before
                if rows != CG_GRADES:
                    sys.exit(f"bench: {route} under callgrind stored {rows} rows for {CG_GRADES} grades")
                batches = {k: v[1] - batches_before[k][1] for k, v in batch_counts(flushers).items()}
                routes[route].append({"ir": counts, "rows": rows, "seconds": seconds, "batches": batches})
        backlog.close()
        log(f"instructions a second while idle ({CG_SECONDS_IDLE} s, callgrind)")
        for s in services.values():
            s.zero()
        time.sleep(CG_SECONDS_IDLE)
        idle = {name: s.dump() / CG_SECONDS_IDLE for name, s in services.items()}
    finally:
        for s in services.values():
            s.stop()
    return {"routes": routes, "idle": idle}
