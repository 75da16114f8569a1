"""`just chaos`: the fault suite. Runs the local stack (the debug build the other tests use, or
release builds with NOTAS_PROFILE=release) with two replicas of each route: routes 1 and 2
behind nginx's 50/50 split (POST /notas), route 3 behind /queue/notas (two queue-apis, the
broker, tansu, and a consumer group of two grade-consumers). It sends an open-model load of
grades to both paths (each with an Idempotency-Key, retried after 502/503/504 or a lost
answer, as a careful client does), and injects one fault after another:

    mariadb killed              kill -9, restarted 2 s later (InnoDB recovers its log)
    redis killed                kill -9, restarted 2 s later, empty: route 2 rebuilds the live view
    redis write stall           CLIENT PAUSE WRITE for 3 x REDIS_TIMEOUT_MS
    mariadb stopped             SIGSTOP for 2 x STORE_TIMEOUT_MS, then SIGCONT
    broker killed               kill -9 of tansu, restarted 2 s later (its SQLite file survives)
    consumer killed mid-batch   Redis' writes paused so that the consumers' batches wait on the
                                live view (in MySQL, offsets not committed), then kill -9 of a
                                grade-consumer whose log says so; restarted once its session has
                                timed out (KAFKA_SESSION_TIMEOUT_MS + 5 s; sooner stalls tansu's group)
    mariadb down while queuing  SIGTERM, restarted 10 s later: routes 1 and 2 answer 503, route 3
                                keeps answering 202, its queue grows, then drains
    rolling restart             SIGTERM and restart of each service replica in turn

After each fault, once every grade sent so far has its final answer, it checks: no grade
acknowledged with a 201 is missing; every grade acknowledged with a 202 is stored exactly
once, by route 3 under its key, and the consumer group's lag is back to 0, within
STORED_WITHIN seconds; nothing is stored twice, no grade was given up, no record became a
dead letter; the live view is exact (Redis' total and every per-course count equal the rows
of routes 2 and 3 in MySQL); the report summaries are exact (once the summarizers have
cleared their backlog, every summary row equals the same figures counted from the grades);
every attempt was answered within REQUEST_TIMEOUT_MS; and route 3 answered only 202 while
MySQL or Redis was away. It counts the grades acknowledged and those stored, and measures
the time from the store's return to each route's first acknowledgement, to an exact live
view and to a drained queue, and each 202's time until its row was committed. The same
checks run once more at the end. Writes report.md, timeline.png and attempts.csv to
.dev/chaos/<time>/ and exits 1 on any violation. The checks themselves, pure functions of
what was read, are in scripts/chaos_checks.py.

Its own supervisor (not honcho, which stops the whole stack when one process ends) starts,
signals and restarts each process. Traffic goes to 127.0.0.1 only: CHAOS_RATE grades a
second (default 150) to the split and CHAOS_QUEUE_RATE (default half of it) to route 3, for
a few seconds around each fault. CHAOS_FAULTS (comma-separated names from the list above)
runs some of the faults only.
"""

# gevent first: the faults' sleeps, subprocess waits and store connections must yield to
# the load's greenlets instead of pausing the arrivals. (So the imports below come after code.)
# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import gevent
import redis
from gevent.event import Event
from geventhttpclient import HTTPClient

from scripts.chaos_checks import (
    ACKNOWLEDGED,
    Attempt,
    Grade,
    Row,
    acknowledged_and_stored,
    attempt_violations,
    kept_accepting_violations,
    live_view_violations,
    queue_violations,
    stored_violations,
    summary_violations,
    times_to_stored,
)
from scripts.common.broker import QueueBacklog
from scripts.common.contract import DEFAULTS, PASS_MARK, LiveKeys
from scripts.common.grades import random_grade
from scripts.common.metrics import nearest_rank
from scripts.common.stores import StoredNames, live_rows, live_view, mysql_connect
from scripts.common.stores import stored_rows as stored_tuples
from scripts.stack import ROOT, commands, free_port, mariadb, render

RATE = float(os.environ.get("CHAOS_RATE", "150"))
QUEUE_RATE = float(os.environ.get("CHAOS_QUEUE_RATE", str(RATE / 2)))
# Load before each fault, and after the store is back.
LEAD, TAIL = 3.0, 4.0
# The services' timeouts: their defaults, set explicitly so that the report can name them.
STORE_TIMEOUT_MS, REDIS_TIMEOUT_MS, REQUEST_TIMEOUT_MS = (
    DEFAULTS[name] for name in ("STORE_TIMEOUT_MS", "REDIS_TIMEOUT_MS", "REQUEST_TIMEOUT_MS")
)
# Route 3's: queue-api's wait for the broker's acknowledgement, and how long a silent consumer
# keeps its partitions (both their defaults).
KAFKA_TIMEOUT_MS, KAFKA_SESSION_TIMEOUT_MS = 3000, 10_000
# Every 202 stored once, and the consumer group's lag 0, within this many seconds once the
# load has stopped and every grade has its answer: a killed member's partitions wait for its
# session to time out, then the backlog drains.
STORED_WITHIN = 30.0
# How long MariaDB stays down while route 3 keeps accepting.
QUEUE_OUTAGE = 10.0
# The services run with the default key prefix.
KEYS = LiveKeys()
# A grade is given up this long after its first attempt.
GIVE_UP_AFTER = 60.0
RETRYABLE = {0, 502, 503, 504}  # 0: no answer (connection lost or timed out)
REPLICAS = 2
CONSUMERS = [f"grade-consumer-{i + 1}" for i in range(REPLICAS)]
# What a grade-consumer logs while a batch it stored in MySQL waits on the live view.
WAITING_ON_REDIS = b"Redis failed"


@dataclass
class Process:
    name: str
    command: str
    ready: str  # "mysql", "redis", "kafka", or the URL that answers 200 once it is ready
    popen: subprocess.Popen | None = None
    stopping: bool = False  # stopped on purpose: its exit is not a failure

    def start(self, env: dict[str, str], logs: Path) -> None:
        self.stopping = False
        with open(logs / f"{self.name}.log", "a") as log:
            self.popen = subprocess.Popen(
                ["bash", "-c", self.command], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def signal(self, sig: int) -> None:
        self.stopping = sig in (signal.SIGTERM, signal.SIGKILL)
        self.popen.send_signal(sig)


class Stack:
    """MariaDB, Redis, the broker, nginx and the services, each a process this suite can stop,
    signal and start again; state and logs under `state`."""

    STORES = ("mariadb", "redis", "kafka")

    def __init__(self, state: Path):
        self.state, self.logs = state, state / "logs"
        for sub in ("logs", "nginx/tmp", "redis"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        ports = {name: free_port() for name in ("nginx", "mariadb", "redis", "dashboard-api", "kafka")}
        replicas = {
            name: [free_port() for _ in range(REPLICAS)]
            for name in ("grpc-server", "grpc-server-admin", "grpc-client", "redis-api", "queue-api", "grade-consumer")
        }
        self.brokers = f"127.0.0.1:{ports['kafka']}"
        # What a fault noted, and the violations it found itself (cleared before each fault);
        # the load, for the faults that wait on what it sent.
        self.notes: list[str] = []
        self.fault_violations: list[str] = []
        self.load: Load | None = None
        self.url = f"http://127.0.0.1:{ports['nginx']}"
        # The checks read as the migration user, who owns the schema; the services connect as
        # theirs, made by the migration step that runs before each grpc-server.
        self.mysql_url, app_url = mariadb.mysql_users(ports["mariadb"], state)
        mariadb.write_migrate_env(self.mysql_url, app_url, state)
        self.redis_url = f"redis://127.0.0.1:{ports['redis']}"
        servers = {**{name: [port] for name, port in ports.items()}, **replicas}
        (state / "nginx" / "nginx.conf").write_text(render.render_nginx(servers, state))
        self.env = {
            **os.environ,
            "MYSQL_URL": app_url,
            "REDIS_URL": self.redis_url,
            "RUST_LOG": "warn,redis_api::rebuild=info",
            "TOKIO_WORKER_THREADS": "1",
            "STORE_TIMEOUT_MS": str(STORE_TIMEOUT_MS),
            "REDIS_TIMEOUT_MS": str(REDIS_TIMEOUT_MS),
            "REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS),
            "KAFKA_BROKERS": self.brokers,
            "KAFKA_TIMEOUT_MS": str(KAFKA_TIMEOUT_MS),
            "KAFKA_SESSION_TIMEOUT_MS": str(KAFKA_SESSION_TIMEOUT_MS),
        }

        def service(name: str, port: int, **env: str) -> str:
            return commands.service_command(name, LISTEN_ADDR=f"127.0.0.1:{port}", **env)

        grpc_servers = ",".join(f"http://127.0.0.1:{port}" for port in replicas["grpc-server"])
        procs = [
            Process("mariadb", commands.mariadb_command(ports["mariadb"], state), "mysql"),
            Process("redis", commands.redis_command(ports["redis"], state), "redis"),
            Process("kafka", commands.kafka_command(ports["kafka"], state), "kafka"),
            Process("nginx", commands.nginx_command(state), f"{self.url}/healthz"),
        ]
        for i in range(REPLICAS):
            server, admin = replicas["grpc-server"][i], replicas["grpc-server-admin"][i]
            client, route2 = replicas["grpc-client"][i], replicas["redis-api"][i]
            procs += [
                Process(
                    f"grpc-server-{i + 1}",
                    mariadb.migration_command(state)
                    + " && "
                    + service("grpc-server", server, ADMIN_ADDR=f"127.0.0.1:{admin}"),
                    f"http://127.0.0.1:{admin}/readyz",
                ),
                Process(
                    f"grpc-client-{i + 1}",
                    service("grpc-client", client, GRPC_SERVER_URL=grpc_servers),
                    f"http://127.0.0.1:{client}/readyz",
                ),
                Process(f"redis-api-{i + 1}", service("redis-api", route2), f"http://127.0.0.1:{route2}/readyz"),
            ]
        for i in range(REPLICAS):
            route3, consumer = replicas["queue-api"][i], replicas["grade-consumer"][i]
            procs += [
                Process(f"queue-api-{i + 1}", service("queue-api", route3), f"http://127.0.0.1:{route3}/readyz"),
                Process(CONSUMERS[i], service("grade-consumer", consumer), f"http://127.0.0.1:{consumer}/readyz"),
            ]
        procs.append(
            Process(
                "dashboard-api",
                service("dashboard-api", ports["dashboard-api"]),
                f"http://127.0.0.1:{ports['dashboard-api']}/readyz",
            )
        )
        self.procs = {p.name: p for p in procs}

    def up(self) -> None:
        """The stores first, then the topics (the cluster declares them as KafkaTopics), then
        the rest: queue-api is ready only once its topic exists."""
        mariadb.init_mariadb(self.state)
        for name in self.STORES:
            self.procs[name].start(self.env, self.logs)
        for name in self.STORES:
            self.wait_ready(name, 180)
        with open(self.logs / "create-topics.log", "a") as log:
            consumer = f"{ROOT}/target/{commands.PROFILE}/grade-consumer"
            subprocess.run([consumer, "--create-topics"], env=self.env, stdout=log, stderr=log, check=True, timeout=60)
        for name, proc in self.procs.items():
            if name not in self.STORES:
                proc.start(self.env, self.logs)
        for name in self.procs:
            self.wait_ready(name, 180)

    def down(self) -> None:
        for proc in self.procs.values():
            if proc.popen and proc.popen.poll() is None:
                proc.signal(signal.SIGTERM)
        for proc in self.procs.values():
            if proc.popen:
                try:
                    proc.popen.wait(20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()

    def restart(self, name: str) -> None:
        self.procs[name].start(self.env, self.logs)

    def answers(self, name: str) -> bool:
        check = self.procs[name].ready
        try:
            if check == "mysql":
                server = self.mysql_url.rsplit("/", 1)[0]  # any user may open information_schema
                mysql_connect(f"{server}/information_schema", connect_timeout=1).close()
            elif check == "redis":
                redis.Redis.from_url(self.redis_url, socket_timeout=1).ping()
            elif check == "kafka":
                host, port = self.brokers.split(":")
                socket.create_connection((host, int(port)), timeout=1).close()
            else:
                with urllib.request.urlopen(check, timeout=2) as answer:
                    return answer.status == 200
            return True
        except Exception:
            return False

    def wait_ready(self, name: str, seconds: float = 60) -> float:
        """Waits until `name` answers; returns when it did (time.time())."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.answers(name):
                return time.time()
            if self.procs[name].popen.poll() is not None:
                sys.exit(f"chaos: {name} exited ({self.procs[name].popen.returncode}); see {self.logs}/{name}.log")
            time.sleep(0.1)
        sys.exit(f"chaos: {name} did not answer within {seconds:.0f} s; see {self.logs}/{name}.log")

    def died(self) -> list[str]:
        """Processes that exited without being asked to."""
        return [
            f"{p.name} exited by itself (code {p.popen.returncode})"
            for p in self.procs.values()
            if p.popen.poll() is not None and not p.stopping
        ]


# The faults: each injects, waits for the recovery, and returns when the store (or, for
# the rolling restart, the last replica) answered again.


def kill_and_restart(store: str):
    def fault(stack: Stack) -> float:
        stack.procs[store].signal(signal.SIGKILL)
        stack.procs[store].popen.wait()
        time.sleep(2)
        stack.restart(store)
        return stack.wait_ready(store, 120)

    return fault


def redis_write_stall(stack: Stack) -> float:
    pause_ms = 3 * REDIS_TIMEOUT_MS
    redis.Redis.from_url(stack.redis_url).execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    time.sleep(pause_ms / 1000)
    return time.time()


def mariadb_stopped(stack: Stack) -> float:
    stack.procs["mariadb"].signal(signal.SIGSTOP)
    time.sleep(2 * STORE_TIMEOUT_MS / 1000)
    stack.procs["mariadb"].signal(signal.SIGCONT)
    return stack.wait_ready("mariadb")


def consumer_killed_mid_batch(stack: Stack) -> float:
    """Redis' writes paused, so that each consumer's batch, once stored in MySQL, waits on the
    live view with its offsets uncommitted; the grade-consumer that logs such a wait first is
    killed with -9, and restarted once its session has timed out. Its records come again, to
    the other member or to it: their keys must store nothing twice, and the live view must
    count each once. Notes whether the other member took the dead one's partitions over.

    Not restarted sooner: with tansu 0.6.0 a member that joins while a dead member is still in
    the group can leave the group formed with no partition assigned to anyone, for good (seen
    with a restart 2 s after the kill; README, "The broker"). Nor does tansu 0.6.0 always hand
    a dead member's partitions to the other member: they may wait until the group changes
    again, here until the member is back."""
    pause_ms = 4 * REDIS_TIMEOUT_MS
    logs = {name: stack.logs / f"{name}.log" for name in CONSUMERS}
    seen = {name: log.stat().st_size for name, log in logs.items()}
    redis.Redis.from_url(stack.redis_url).execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    paused, victim = time.time(), None
    while victim is None and time.time() < paused + pause_ms / 1000 - 0.2:
        for name, log in logs.items():
            with open(log, "rb") as f:
                f.seek(seen[name])
                if WAITING_ON_REDIS in f.read():
                    victim = name
                    break
        time.sleep(0.05)
    if victim is None:
        victim = CONSUMERS[0]
        stack.fault_violations.append(
            f"no grade-consumer logged a batch waiting on the live view within {pause_ms} ms: "
            f"{victim} was killed, but not mid-batch"
        )
    proc = stack.procs[victim]
    proc.signal(signal.SIGKILL)
    proc.popen.wait()
    killed = time.time()
    stack.notes.append(f"{victim} killed {killed - paused:.1f} s into the pause, with a stored batch uncommitted")
    # The grades accepted before the kill are all stored once its partitions have moved.
    accepted = {g.body["nombre"] for g in stack.load.grades if g.queued and g.acked_at is not None}
    session = KAFKA_SESSION_TIMEOUT_MS / 1000
    restart_at, stored = killed + session + 5, StoredNames(stack.mysql_url)
    while time.time() < restart_at:
        if accepted <= stored.refresh():
            stack.notes.append(
                f"the other member took its partitions over: every grade accepted before the kill was stored "
                f"{time.time() - killed:.1f} s after it (session timeout {session:.0f} s)"
            )
            break
        time.sleep(0.25)
    else:
        missing = len(accepted - stored.names)
        stack.notes.append(
            f"the other member had not taken its partitions over {restart_at - killed:.0f} s after the kill "
            f"({missing} grades accepted before it not stored yet): they waited for {victim} to come back "
            "(tansu 0.6.0 keeps a dead member's assignment until the group changes again)"
        )
    stack.restart(victim)
    return stack.wait_ready(victim, 120)


def mariadb_down_while_queuing(stack: Stack) -> float:
    """MariaDB shut down (SIGTERM) and started again QUEUE_OUTAGE seconds later: routes 1 and
    2 answer 503 meanwhile, route 3 keeps accepting and its queue grows."""
    proc = stack.procs["mariadb"]
    proc.signal(signal.SIGTERM)
    proc.popen.wait(60)
    time.sleep(QUEUE_OUTAGE)
    stack.restart("mariadb")
    return stack.wait_ready("mariadb", 120)


def rolling_restart(stack: Stack) -> float:
    for name in [n for n in stack.procs if n.rsplit("-", 1)[-1].isdigit()]:
        proc = stack.procs[name]
        proc.signal(signal.SIGTERM)
        proc.popen.wait(30)
        stack.restart(name)
        stack.wait_ready(name)
    return time.time()


FAULTS = {
    "mariadb killed": kill_and_restart("mariadb"),
    "redis killed": kill_and_restart("redis"),
    "redis write stall": redis_write_stall,
    "mariadb stopped": mariadb_stopped,
    "broker killed": kill_and_restart("kafka"),
    "consumer killed mid-batch": consumer_killed_mid_batch,
    "mariadb down while queuing": mariadb_down_while_queuing,
    "rolling restart": rolling_restart,
}
# The faults during which route 3 must answer every grade with a 202 (accepting needs the
# broker only), with what was away.
QUEUE_KEEPS_ACCEPTING = {
    "mariadb killed": "MariaDB was killed",
    "redis killed": "Redis was killed",
    "redis write stall": "Redis' writes stalled",
    "mariadb stopped": "MariaDB was stopped",
    "consumer killed mid-batch": "a consumer was killed",
    "mariadb down while queuing": "MariaDB was down",
}

# CHAOS_FAULTS="redis killed,rolling restart" runs only those, in that order.
FAULTS_CHOSEN = [f.strip() for f in os.environ.get("CHAOS_FAULTS", ",".join(FAULTS)).split(",")]


@dataclass
class Load:
    """Grades arriving at a fixed rate whatever the answers (an open model), to the split and
    to route 3: each is sent in its own greenlet and retried with the same key until it is
    acknowledged (201; 202 on route 3). `backlog` samples route 3's lag meanwhile (None while
    the broker does not answer)."""

    url: str
    run: str
    grades: list[Grade] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    backlog: list[tuple[float, int | None]] = field(default_factory=list)

    def __post_init__(self):
        self.client = HTTPClient.from_url(
            self.url,
            concurrency=4096,
            connection_timeout=REQUEST_TIMEOUT_MS / 1000,
            network_timeout=REQUEST_TIMEOUT_MS / 1000 + 5,
        )

    def send_until(self, stop: Event, queued: bool = False) -> list[gevent.Greenlet]:
        sent, start, rate = [], time.time(), QUEUE_RATE if queued else RATE
        while not stop.is_set():
            n = len(self.grades)
            self.grades.append(Grade({**random_grade(), "nombre": f"chaos {n}"}, f"{self.run}-{n}", queued=queued))
            sent.append(gevent.spawn(self.send, n))
            gevent.sleep(max(0.0, start + len(sent) / rate - time.time()))
        return sent

    def send(self, n: int) -> None:
        grade, first = self.grades[n], time.time()
        path, acknowledged = ("/queue/notas", 202) if grade.queued else ("/notas", 201)
        body = json.dumps(grade.body)
        headers = {"content-type": "application/json", "idempotency-key": grade.key}
        for attempt in range(1000):
            start, status, route, answer = time.time(), 0, "", None
            try:
                response = self.client.post(path, body=body, headers=headers)
                status, route = response.status_code, response.get("x-notas-route") or ""
                answer = response.read()
            except Exception:
                pass
            self.attempts.append(Attempt(n, start, time.time(), status, route, grade.queued))
            if status == acknowledged:
                grade.acked_at, grade.route = time.time(), route
                if not grade.queued:
                    grade.id = json.loads(answer)["id"]
                return
            if status not in RETRYABLE:
                grade.refused = f"answered {status}: {answer[:200]!r}"
                return
            if time.time() - first > GIVE_UP_AFTER:
                grade.refused = f"still {status or 'no answer'} after {GIVE_UP_AFTER:.0f} s"
                return
            gevent.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))

    def watch_backlog(self, brokers: str) -> None:
        """Samples route 3's lag twice a second, for as long as the suite runs."""
        backlog = QueueBacklog(brokers)
        while True:
            try:
                lag, _ = backlog.read()
            except Exception:
                lag = None
            self.backlog.append((time.time(), lag))
            gevent.sleep(0.5)


def live_view_errors(stack: Stack) -> list[str]:
    """How Redis' live view differs from the rows of routes 2 and 3 in MySQL (empty: exact)."""
    mysql_counts = live_rows(stack.mysql_url)
    try:
        total, counts = live_view(stack.redis_url, KEYS.prefix, timeout=2)
    except redis.RedisError as e:
        return [f"Redis: {e}"]
    return live_view_violations(total, counts, mysql_counts)


# The report summaries, and the same figures counted from the grades.
SUMMARY_RECOUNTS = {
    "course_term_stats": (
        "SELECT CONCAT(semestre, year, curso), passed, failed, students FROM course_term_stats",
        f"SELECT CONCAT(semestre, year, curso), SUM(nota >= {PASS_MARK}), SUM(nota < {PASS_MARK}), "
        "COUNT(DISTINCT carnet) FROM grades GROUP BY semestre, year, curso",
    ),
    "student_stats per term": (
        "SELECT CONCAT(semestre, year, carnet), total, grades, 0 FROM student_stats WHERE year > 0",
        "SELECT CONCAT(semestre, year, carnet), SUM(nota), COUNT(*), 0 FROM grades GROUP BY semestre, year, carnet",
    ),
    "student_stats over every term": (
        "SELECT CONCAT(carnet), total, grades, 0 FROM student_stats WHERE year = 0",
        "SELECT CONCAT(carnet), SUM(nota), COUNT(*), 0 FROM grades GROUP BY carnet",
    ),
}


def summary_errors(stack: Stack) -> list[str]:
    """How the report summaries differ from the grades, in a snapshot where the writers'
    summarizers have cleared the backlog (empty: exact, every grade summarized once).

    One snapshot for the backlog, the summaries and the recount: a grade whose request was
    answered 503 may still be committed by a writer once MySQL is back, and between separate
    reads it would be counted from the grades but not yet summarized."""
    deadline = time.time() + 30
    with mysql_connect(stack.mysql_url, autocommit=True) as db, db.cursor() as cur:
        while True:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            cur.execute("SELECT COUNT(*) FROM summary_backlog")
            (owed,) = cur.fetchone()
            if not owed:
                break
            cur.execute("COMMIT")
            if time.time() > deadline:
                return [f"{owed} batches still owed to the report summaries after 30 s"]
            time.sleep(0.2)
        errors = []
        for table, (summary, recount) in SUMMARY_RECOUNTS.items():
            figures = []
            for query in (summary, recount):
                cur.execute(query)
                figures.append({key: tuple(int(v) for v in rest) for key, *rest in cur.fetchall()})
            errors += summary_violations(table, *figures)
        cur.execute("COMMIT")
        return errors


def stored_rows(stack: Stack) -> list[Row]:
    """Every stored grade, with the key committed with it and when it was committed."""
    return [Row(*row) for row in stored_tuples(stack.mysql_url)]


def drain(stack: Stack, load: Load) -> tuple[float | None, int | None, int]:
    """Waits until every grade accepted with a 202 so far has a row and the consumer group's
    lag is 0, for STORED_WITHIN seconds at most. Returns the seconds that took (None: not
    within the bound), and the last lag and dead letters read."""
    start, stored, backlog = time.time(), StoredNames(stack.mysql_url), QueueBacklog(stack.brokers)
    lag, dead_letters = None, 0
    try:
        while True:
            names = stored.refresh()
            pending = [g for g in load.grades if g.queued and g.acked_at is not None and g.body["nombre"] not in names]
            try:
                lag, dead_letters = backlog.read()
            except Exception:
                lag = None
            if not pending and lag == 0:
                return time.time() - start, lag, dead_letters
            if time.time() > start + STORED_WITHIN:
                return None, lag, dead_letters
            gevent.sleep(0.25)
    finally:
        backlog.close()


@dataclass
class Outcome:
    fault: str
    start: float
    back: float
    grades: range
    first_ok: dict[str, float | None]  # each route's first 201 (202 on route 3) after `back`
    live_caught_up: float | None
    violations: list[str]
    tally: dict[int, tuple[int, int]]  # 201 and 202: (acknowledged, stored once) of the fault's grades
    drained: float | None = None  # seconds from the load's end until every 202 was stored and the lag 0
    queue_peak: int | None = None  # the largest lag sampled from the fault until drained
    to_stored: list[float] = field(default_factory=list)  # each 202's seconds until its row
    notes: list[str] = field(default_factory=list)


def caught_up_after(stack: Stack, back: float) -> float | None:
    """Seconds from `back` until the live view holds every grade of routes 2 and 3 MySQL held
    at `back` (after `redis killed`, until the rebuild reached them), or None if that takes
    over a minute. A grade is in the view when its bit is set in the `applied` bitmaps
    (crates/notas-core/src/live/mod.rs)."""
    with mysql_connect(stack.mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT id FROM grades WHERE route IN ('redis', 'queue')")
        owed = [id_ for (id_,) in cur.fetchall()]
    r = redis.Redis.from_url(stack.redis_url, socket_timeout=1)
    while time.time() < back + 60:
        try:
            pipe = r.pipeline(transaction=False)
            for id_ in owed:
                pipe.getbit(*KEYS.applied(id_))
            owed = [id_ for id_, applied in zip(owed, pipe.execute()) if not applied]
            if not owed:
                return time.time() - back
        except redis.RedisError:
            pass
        gevent.sleep(0.05)
    return None


def settled_violations(stack: Stack, load: Load) -> tuple[list[str], list[Row], float | None]:
    """Once every grade has its answer: route 3's queue drained within STORED_WITHIN, the
    live view exact, the report summaries exact, every acknowledged grade stored exactly once,
    no process dead by itself. Also returns the rows read and how long the queue took to
    drain (seconds)."""
    drained, lag, dead_letters = drain(stack, load)
    violations = queue_violations(lag, dead_letters, STORED_WITHIN)
    # Once every answer is in, the view must be exact (the last batches' updates may still
    # be on their way for a moment).
    deadline = time.time() + 30
    while (live_errors := live_view_errors(stack)) and time.time() < deadline:
        time.sleep(0.2)
    violations += [f"live view: {e}" for e in live_errors]
    violations += [f"report summaries: {e}" for e in summary_errors(stack)]
    rows = stored_rows(stack)
    violations += stored_violations(rows, load.grades) + stack.died()
    return violations, rows, drained


def run_fault(stack: Stack, load: Load, name: str) -> Outcome:
    first_grade, first_attempt = len(load.grades), len(load.attempts)
    stack.notes, stack.fault_violations, stack.load = [], [], load
    stop = Event()
    senders = [gevent.spawn(load.send_until, stop), gevent.spawn(load.send_until, stop, True)]
    gevent.sleep(LEAD)
    start = time.time()
    back = FAULTS[name](stack)
    catching_up = gevent.spawn(caught_up_after, stack, back)
    gevent.sleep(max(0.0, back + TAIL - time.time()))
    stop.set()
    greenlets = [g for sender in senders for g in sender.get()]
    gevent.joinall(greenlets, timeout=GIVE_UP_AFTER + 30)
    violations = list(stack.fault_violations)
    if not all(g.dead for g in greenlets):
        violations.append(f"{sum(not g.dead for g in greenlets)} grades still unanswered")
    live_caught_up = catching_up.get()
    if live_caught_up is None:
        violations.append("the live view did not catch up within a minute of the recovery")
    settled, rows, drained = settled_violations(stack, load)
    violations += settled
    attempts = load.attempts[first_attempt:]
    answers, first_ok = attempt_violations(attempts, back, REQUEST_TIMEOUT_MS)
    violations += answers
    if name in QUEUE_KEEPS_ACCEPTING:
        violations += kept_accepting_violations(attempts, start, back, QUEUE_KEEPS_ACCEPTING[name])
    checked = time.time()
    peak = max((lag for at, lag in load.backlog if start <= at <= checked and lag is not None), default=None)
    if name == "mariadb down while queuing" and not peak:
        violations.append("route 3's queue did not grow while MariaDB was down: the fault tested nothing")
    grades = load.grades[first_grade:]
    return Outcome(
        name,
        start,
        back,
        range(first_grade, len(load.grades)),
        first_ok,
        live_caught_up,
        violations,
        acknowledged_and_stored(rows, grades),
        drained,
        peak,
        times_to_stored(rows, grades),
        list(stack.notes),
    )


def final_check(stack: Stack, load: Load) -> tuple[list[str], dict[int, tuple[int, int]]]:
    """After the last fault, with no load: the same checks over every grade sent."""
    violations, rows, _ = settled_violations(stack, load)
    return violations, acknowledged_and_stored(rows, load.grades)


def write_report(
    folder: Path, load: Load, outcomes: list[Outcome], t0: float, end: tuple[list[str], dict[int, tuple[int, int]]]
) -> None:
    with open(folder / "attempts.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["grade", "start_s", "latency_ms", "status", "route"])
        for a in load.attempts:
            out.writerow([a.grade, f"{a.start - t0:.3f}", f"{(a.end - a.start) * 1000:.1f}", a.status, a.route])

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{max(value, 0.0):.2f} s"

    def answers(attempts: list[Attempt]) -> tuple[str, str]:
        """The answers retried (other than the acknowledgement) and the slowest attempt."""
        errors = Counter((a.route or "nginx", a.status) for a in attempts if a.status != ACKNOWLEDGED.get(a.route, 201))
        retried = ", ".join(f"{who} {status or 'no answer'} ×{n}" for (who, status), n in sorted(errors.items()))
        slowest = max((a.end - a.start for a in attempts), default=0) * 1000
        return retried or "none", f"{slowest:.0f} ms"

    end_violations, end_tally = end
    lines = [
        "# Fault suite (`just chaos`)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {commands.PROFILE} builds, {REPLICAS} replicas of each route: "
        f"routes 1 and 2 behind nginx's 50/50 split, route 3 (queue-api, tansu, a consumer group of {REPLICAS}) "
        f"behind /queue/notas. Open-model load of {RATE:.0f} grades/s to the split and {QUEUE_RATE:.0f} grades/s to "
        "route 3, each with an Idempotency-Key and retried after 502/503/504 or a lost answer. Timeouts: "
        f"STORE_TIMEOUT_MS {STORE_TIMEOUT_MS}, REDIS_TIMEOUT_MS {REDIS_TIMEOUT_MS}, REQUEST_TIMEOUT_MS "
        f"{REQUEST_TIMEOUT_MS}, KAFKA_TIMEOUT_MS {KAFKA_TIMEOUT_MS}, KAFKA_SESSION_TIMEOUT_MS {KAFKA_SESSION_TIMEOUT_MS}.",
        "",
        "Checked after each fault, over every grade sent so far: no grade acknowledged with a 201 missing; every "
        f"grade acknowledged with a 202 stored exactly once, by route 3 under its key, and the consumer group's lag "
        f"0, within {STORED_WITHIN:.0f} s once the load stopped and every grade had its answer; none stored twice, "
        "none given up, no dead letter; the live view equal to the rows of routes 2 and 3 in MySQL; the report "
        "summaries equal to the figures counted from the grades; every attempt answered within REQUEST_TIMEOUT_MS; "
        "route 3 answering only 202 while MySQL or Redis was away. The same once more at the end.",
        "",
        "## Routes 1 and 2 (the split)",
        "",
        "| fault | grades | 201 | stored once | answers retried | slowest attempt "
        "| first 201 after recovery (grpc / redis) | live view caught up after | violations |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for o in outcomes:
        grades = [n for n in o.grades if not load.grades[n].queued]
        chosen = set(grades)
        retried, slowest = answers([a for a in load.attempts if a.grade in chosen])
        acked, stored = o.tally[201]
        lines.append(
            f"| {o.fault} | {len(grades)} | {acked} | {stored} | {retried} | {slowest} "
            f"| {seconds(o.first_ok['grpc'])} / {seconds(o.first_ok['redis'])} | {seconds(o.live_caught_up)} "
            f"| {len(o.violations) or 'none'} |"
        )
    lines += [
        "",
        "## Route 3 (the queue)",
        "",
        '"queue peak" is the consumer group\'s largest lag sampled (twice a second) from the fault until the queue '
        'drained; "drained after" is the time from the end of the load (every grade answered) until every 202 so '
        "far was stored and the lag was 0; "
        "the time to stored runs from each 202 to its row's commit (MySQL's created_at).",
        "",
        "| fault | grades | 202 | stored once | answers retried | slowest attempt | first 202 after recovery "
        "| queue peak | drained after | 202 to stored p50 / p99 / max |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        grades = [n for n in o.grades if load.grades[n].queued]
        chosen = set(grades)
        retried, slowest = answers([a for a in load.attempts if a.grade in chosen])
        acked, stored = o.tally[202]
        to_stored = " / ".join(
            "-" if (v := nearest_rank(o.to_stored, q / 100)) is None else f"{v:.2f} s" for q in (50, 99, 100)
        )
        peak = "-" if o.queue_peak is None else f"{o.queue_peak:,}"
        lines.append(
            f"| {o.fault} | {len(grades)} | {acked} | {stored} | {retried} | {slowest} "
            f"| {seconds(o.first_ok['queue'])} | {peak} | {seconds(o.drained)} | {to_stored} |"
        )
    notes = [f"- {o.fault}: {n}" for o in outcomes for n in o.notes]
    if notes:
        lines += ["", *notes]
    (acked_201, stored_201), (acked_202, stored_202) = end_tally[201], end_tally[202]
    lines += [
        "",
        "## At the end",
        "",
        f"{len(load.grades):,} grades sent; {acked_201:,} answered 201, {stored_201:,} of them stored once; "
        f"{acked_202:,} answered 202, {stored_202:,} of them stored once by route 3. "
        + ("No violation." if not end_violations else f"{len(end_violations)} violations (below)."),
    ]
    violations = [f"- {o.fault}: {v}" for o in outcomes for v in o.violations]
    violations += [f"- at the end: {v}" for v in end_violations]
    lines += ["", "## Violations", "", *(violations or ["None."]), "", "![timeline](timeline.png)", ""]
    (folder / "report.md").write_text("\n".join(lines))
    plot_timeline(folder / "timeline.png", load, outcomes, t0)


def plot_timeline(path: Path, load: Load, outcomes: list[Outcome], t0: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = int(max(a.end for a in load.attempts) - t0) + 1
    fig, axes = plt.subplots(3, 1, figsize=(12, 8), sharex=True)
    for ax, route in zip(axes, ACKNOWLEDGED):
        ok, failed = [0] * end, [0] * end
        for a in load.attempts:
            if a.route == route:
                (ok if a.status == ACKNOWLEDGED[route] else failed)[int(a.end - t0)] += 1
        ax.plot(range(end), ok, label=f"{ACKNOWLEDGED[route]}/s", color="tab:green")
        ax.plot(range(end), failed, label="errors/s (retried)", color="tab:red")
        for o in outcomes:
            ax.axvspan(o.start - t0, max(o.back, o.start + 0.3) - t0, color="tab:orange", alpha=0.25)
            if ax is axes[0]:
                ax.text(o.start - t0, 1.02, o.fault, fontsize=7, rotation=15, transform=ax.get_xaxis_transform())
        ax.set_ylabel(f"route {route}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    lag = axes[-1].twinx()
    samples = [(at - t0, n) for at, n in load.backlog if n is not None and at - t0 <= end]
    lag.plot([s for s, _ in samples], [n for _, n in samples], color="tab:blue", label="lag (records)")
    lag.set_ylabel("consumer lag", color="tab:blue")
    lag.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize=8)
    axes[-1].set_xlabel("seconds (orange: fault until the store answers again)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    if unknown := [f for f in FAULTS_CHOSEN if f not in FAULTS]:
        sys.exit(f"chaos: unknown fault {unknown[0]!r}; CHAOS_FAULTS takes: {', '.join(FAULTS)}")
    run = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = ROOT / ".dev" / "chaos" / run
    stack = Stack(folder / "stack")
    print(f"chaos: starting the stack in {stack.state}", flush=True)
    try:
        stack.up()
        load, outcomes, t0 = Load(stack.url, run), [], time.time()
        watcher = gevent.spawn(load.watch_backlog, stack.brokers)
        for name in FAULTS_CHOSEN:
            print(f"chaos: {name}", flush=True)
            outcomes.append(run_fault(stack, load, name))
            for v in outcomes[-1].violations:
                print(f"chaos:   VIOLATION {v}", flush=True)
        print("chaos: the end", flush=True)
        end = final_check(stack, load)
        for v in end[0]:
            print(f"chaos:   VIOLATION {v}", flush=True)
        watcher.kill()
        write_report(folder, load, outcomes, t0, end)
    finally:
        stack.down()
    shutil.rmtree(stack.state / "mariadb")  # the logs stay
    print((folder / "report.md").read_text())
    print(f"chaos: report in {folder}/report.md")
    sys.exit(1 if any(o.violations for o in outcomes) or end[0] else 0)


if __name__ == "__main__":
    main()
