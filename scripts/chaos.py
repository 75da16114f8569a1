"""`just chaos`: the fault suite. Runs the local stack (the debug build the other tests use, or
release builds with NOTAS_PROFILE=release) with two replicas of each route behind nginx's
50/50 split, sends an open-model load of grades through it
(each with an Idempotency-Key, retried after 502/503/504 or a lost answer, as a careful
client does), and injects one fault after another:

    mariadb killed      kill -9, restarted 2 s later (InnoDB recovers its log)
    redis killed        kill -9, restarted 2 s later, empty: route 2 rebuilds the live view
    redis write stall   CLIENT PAUSE WRITE for 3 x REDIS_TIMEOUT_MS
    mariadb stopped     SIGSTOP for 2 x STORE_TIMEOUT_MS, then SIGCONT
    rolling restart     SIGTERM and restart of each service replica in turn

After each fault, once every grade sent so far has its final answer, it checks: no grade
acknowledged with a 201 is missing, none is stored twice, none was given up, the live view
is exact (Redis' total and every per-course count equal route 2's rows in MySQL), the report
summaries are exact (once the summarizers have cleared their backlog, every summary row equals
the same figures counted from the grades), and every attempt was answered within
REQUEST_TIMEOUT_MS. It measures the time from the store's
return to each route's first 201 and to an exact live view. Writes report.md, timeline.png
and attempts.csv to .dev/chaos/<time>/ and exits 1 on any violation. The checks themselves,
pure functions of what was read, are in scripts/chaos_checks.py.

Its own supervisor (not honcho, which stops the whole stack when one process ends) starts,
signals and restarts each process. Traffic goes to 127.0.0.1 only: CHAOS_RATE grades a
second (default 150) for a few seconds around each fault. CHAOS_FAULTS (comma-separated
names from the list above) runs some of the faults only.
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

from scripts import devstack
from scripts.chaos_checks import (
    Attempt,
    Grade,
    attempt_violations,
    live_view_violations,
    stored_violations,
    summary_violations,
)
from scripts.contract import DEFAULTS, PASS_MARK, LiveKeys, count_field
from scripts.grades import random_grade
from scripts.stack import ROOT, free_port, mysql_connect, summaries_owed

RATE = float(os.environ.get("CHAOS_RATE", "150"))
# Load before each fault, and after the store is back.
LEAD, TAIL = 3.0, 4.0
# The services' timeouts: their defaults, set explicitly so that the report can name them.
STORE_TIMEOUT_MS, REDIS_TIMEOUT_MS, REQUEST_TIMEOUT_MS = (
    DEFAULTS[name] for name in ("STORE_TIMEOUT_MS", "REDIS_TIMEOUT_MS", "REQUEST_TIMEOUT_MS")
)
# The services run with the default key prefix.
KEYS = LiveKeys()
# A grade is given up this long after its first attempt.
GIVE_UP_AFTER = 60.0
RETRYABLE = {0, 502, 503, 504}  # 0: no answer (connection lost or timed out)
REPLICAS = 2


@dataclass
class Process:
    name: str
    command: str
    ready: str  # "mysql", "redis", or the URL that answers 200 once it is ready
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
    """MariaDB, Redis, nginx and the services, each a process this suite can stop, signal
    and start again; state and logs under `state`."""

    def __init__(self, state: Path):
        self.state, self.logs = state, state / "logs"
        for sub in ("logs", "nginx/tmp", "redis"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        ports = {name: free_port() for name in ("nginx", "mariadb", "redis", "dashboard-api")}
        replicas = {
            name: [free_port() for _ in range(REPLICAS)]
            for name in ("grpc-server", "grpc-server-admin", "grpc-client", "redis-api")
        }
        self.url = f"http://127.0.0.1:{ports['nginx']}"
        # The checks read as the migration user, who owns the schema; the services connect as
        # theirs, made by the migration step that runs before each grpc-server.
        self.mysql_url, app_url = devstack.mysql_users(ports["mariadb"], state)
        devstack.write_migrate_env(self.mysql_url, app_url, state)
        self.redis_url = f"redis://127.0.0.1:{ports['redis']}"
        servers = {**{name: [port] for name, port in ports.items()}, **replicas}
        (state / "nginx" / "nginx.conf").write_text(devstack.render_nginx(servers, state))
        self.env = {
            **os.environ,
            "MYSQL_URL": app_url,
            "REDIS_URL": self.redis_url,
            "RUST_LOG": "warn,redis_api::rebuild=info",
            "TOKIO_WORKER_THREADS": "1",
            "STORE_TIMEOUT_MS": str(STORE_TIMEOUT_MS),
            "REDIS_TIMEOUT_MS": str(REDIS_TIMEOUT_MS),
            "REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS),
        }

        def service(name: str, port: int, **env: str) -> str:
            return devstack.service_command(name, LISTEN_ADDR=f"127.0.0.1:{port}", **env)

        grpc_servers = ",".join(f"http://127.0.0.1:{port}" for port in replicas["grpc-server"])
        procs = [
            Process("mariadb", devstack.mariadb_command(ports["mariadb"], state), "mysql"),
            Process("redis", devstack.redis_command(ports["redis"], state), "redis"),
            Process("nginx", devstack.nginx_command(state), f"{self.url}/healthz"),
        ]
        for i in range(REPLICAS):
            server, admin = replicas["grpc-server"][i], replicas["grpc-server-admin"][i]
            client, route2 = replicas["grpc-client"][i], replicas["redis-api"][i]
            procs += [
                Process(
                    f"grpc-server-{i + 1}",
                    devstack.migration_command(state)
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
        procs.append(
            Process(
                "dashboard-api",
                service("dashboard-api", ports["dashboard-api"]),
                f"http://127.0.0.1:{ports['dashboard-api']}/readyz",
            )
        )
        self.procs = {p.name: p for p in procs}

    def up(self) -> None:
        devstack.init_mariadb(self.state)
        for proc in self.procs.values():
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
    "rolling restart": rolling_restart,
}

# CHAOS_FAULTS="redis killed,rolling restart" runs only those, in that order.
FAULTS_CHOSEN = [f.strip() for f in os.environ.get("CHAOS_FAULTS", ",".join(FAULTS)).split(",")]


@dataclass
class Load:
    """Grades arriving at a fixed rate whatever the answers (an open model): each is sent
    in its own greenlet and retried with the same key until it gets a 201."""

    url: str
    run: str
    grades: list[Grade] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self):
        self.client = HTTPClient.from_url(
            self.url,
            concurrency=4096,
            connection_timeout=REQUEST_TIMEOUT_MS / 1000,
            network_timeout=REQUEST_TIMEOUT_MS / 1000 + 5,
        )

    def send_until(self, stop: Event) -> list[gevent.Greenlet]:
        sent, start = [], time.time()
        while not stop.is_set():
            n = len(self.grades)
            self.grades.append(Grade({**random_grade(), "nombre": f"chaos {n}"}, f"{self.run}-{n}"))
            sent.append(gevent.spawn(self.send, n))
            gevent.sleep(max(0.0, start + len(sent) / RATE - time.time()))
        return sent

    def send(self, n: int) -> None:
        grade, first = self.grades[n], time.time()
        body = json.dumps(grade.body)
        headers = {"content-type": "application/json", "idempotency-key": grade.key}
        for attempt in range(1000):
            start, status, route, answer = time.time(), 0, "", None
            try:
                response = self.client.post("/notas", body=body, headers=headers)
                status, route = response.status_code, response.get("x-notas-route") or ""
                answer = response.read()
            except Exception:
                pass
            self.attempts.append(Attempt(n, start, time.time(), status, route))
            if status == 201:
                grade.id, grade.route = json.loads(answer)["id"], route
                return
            if status not in RETRYABLE:
                grade.refused = f"answered {status}: {answer[:200]!r}"
                return
            if time.time() - first > GIVE_UP_AFTER:
                grade.refused = f"still {status or 'no answer'} after {GIVE_UP_AFTER:.0f} s"
                return
            gevent.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))


def live_view_errors(stack: Stack) -> list[str]:
    """How Redis' live view differs from route 2's rows in MySQL (empty: exact)."""
    with mysql_connect(stack.mysql_url) as db, db.cursor() as cur:
        cur.execute(
            "SELECT curso, CAST(semestre AS CHAR), year, COUNT(*) FROM grades "
            "WHERE route = 'redis' GROUP BY curso, semestre, year"
        )
        mysql_counts = {count_field(c, s, y): n for c, s, y, n in cur.fetchall()}
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=2)
    try:
        total = int(r.get(KEYS.total()) or 0)
        counts = {k: int(v) for k, v in r.hgetall(KEYS.counts()).items()}
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
    """How the report summaries differ from the grades, once the writers' summarizers have
    cleared the backlog (empty: exact, every grade summarized once)."""
    deadline = time.time() + 30
    while (owed := summaries_owed(stack.mysql_url)) and time.time() < deadline:
        time.sleep(0.2)
    if owed:
        return [f"{owed} batches still owed to the report summaries after 30 s"]
    with mysql_connect(stack.mysql_url, autocommit=True) as db, db.cursor() as cur:
        errors = []
        for table, (summary, recount) in SUMMARY_RECOUNTS.items():
            figures = []
            for query in (summary, recount):
                cur.execute(query)
                figures.append({key: tuple(int(v) for v in rest) for key, *rest in cur.fetchall()})
            errors += summary_violations(table, *figures)
        return errors


def stored_errors(stack: Stack, load: Load) -> list[str]:
    """Acknowledged grades missing, grades stored twice, rows without a key, grades given up."""
    with mysql_connect(stack.mysql_url) as db, db.cursor() as cur:
        cur.execute(
            "SELECT g.id, g.nombre, k.grade_id IS NOT NULL FROM grades g "
            "LEFT JOIN idempotency_keys k ON k.grade_id = g.id"
        )
        return stored_violations(cur.fetchall(), load.grades)


@dataclass
class Outcome:
    fault: str
    start: float
    back: float
    grades: range
    first_201: dict[str, float | None]
    live_caught_up: float | None
    violations: list[str]


def caught_up_after(stack: Stack, back: float) -> float | None:
    """Seconds from `back` until the live view holds every route 2 grade MySQL held at
    `back` (after `redis killed`, until the rebuild reached them), or None if that takes
    over a minute. A grade is in the view when its bit is set in the `applied` bitmaps
    (crates/notas-core/src/live.rs)."""
    with mysql_connect(stack.mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT id FROM grades WHERE route = 'redis'")
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


def run_fault(stack: Stack, load: Load, name: str) -> Outcome:
    first_grade, first_attempt = len(load.grades), len(load.attempts)
    stop = Event()
    sender = gevent.spawn(load.send_until, stop)
    gevent.sleep(LEAD)
    start = time.time()
    back = FAULTS[name](stack)
    catching_up = gevent.spawn(caught_up_after, stack, back)
    gevent.sleep(max(0.0, back + TAIL - time.time()))
    stop.set()
    greenlets = sender.get()
    gevent.joinall(greenlets, timeout=GIVE_UP_AFTER + 30)
    violations = (
        [] if all(g.dead for g in greenlets) else [f"{sum(not g.dead for g in greenlets)} grades still unanswered"]
    )
    live_caught_up = catching_up.get()
    if live_caught_up is None:
        violations.append("the live view did not catch up within a minute of the recovery")
    # Once every answer is in, the view must be exact (the last batches' updates may still
    # be on their way for a moment).
    deadline = time.time() + 30
    while (live_errors := live_view_errors(stack)) and time.time() < deadline:
        time.sleep(0.2)
    violations += [f"live view: {e}" for e in live_errors]
    violations += [f"report summaries: {e}" for e in summary_errors(stack)]
    violations += stored_errors(stack, load) + stack.died()
    answers, first_201 = attempt_violations(load.attempts[first_attempt:], back, REQUEST_TIMEOUT_MS)
    violations += answers
    return Outcome(name, start, back, range(first_grade, len(load.grades)), first_201, live_caught_up, violations)


def write_report(folder: Path, load: Load, outcomes: list[Outcome], t0: float) -> None:
    with open(folder / "attempts.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["grade", "start_s", "latency_ms", "status", "route"])
        for a in load.attempts:
            out.writerow([a.grade, f"{a.start - t0:.3f}", f"{(a.end - a.start) * 1000:.1f}", a.status, a.route])

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{max(value, 0.0):.2f} s"

    lines = [
        "# Fault suite (`just chaos`)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {devstack.PROFILE} builds, {REPLICAS} replicas of each route "
        f"behind nginx's 50/50 split; open-model load of {RATE:.0f} grades/s, each with an Idempotency-Key and "
        f"retried after 502/503/504 or a lost answer. Timeouts: STORE_TIMEOUT_MS {STORE_TIMEOUT_MS}, "
        f"REDIS_TIMEOUT_MS {REDIS_TIMEOUT_MS}, REQUEST_TIMEOUT_MS {REQUEST_TIMEOUT_MS}.",
        "",
        "Checked after each fault, over every grade sent so far: no acknowledged grade missing, none stored "
        "twice, none given up, the live view equal to route 2's rows in MySQL, the report summaries equal to the "
        "figures counted from the grades, every attempt answered within REQUEST_TIMEOUT_MS.",
        "",
        "| fault | grades | 201 | answers retried | slowest attempt | first 201 after recovery (grpc / redis) "
        "| live view caught up after | violations |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for o in outcomes:
        grades = [load.grades[n] for n in o.grades]
        attempts = [a for a in load.attempts if a.grade in o.grades]
        errors = Counter((a.route or "nginx", a.status) for a in attempts if a.status != 201)
        retried = ", ".join(f"{who} {status or 'no answer'} ×{n}" for (who, status), n in sorted(errors.items()))
        slowest = max((a.end - a.start for a in attempts), default=0) * 1000
        lines.append(
            f"| {o.fault} | {len(grades)} | {sum(g.id is not None for g in grades)} | {retried or 'none'} | {slowest:.0f} ms "
            f"| {seconds(o.first_201['grpc'])} / {seconds(o.first_201['redis'])} | {seconds(o.live_caught_up)} "
            f"| {len(o.violations) or 'none'} |"
        )
    violations = [f"- {o.fault}: {v}" for o in outcomes for v in o.violations]
    lines += ["", "## Violations", "", *(violations or ["None."]), "", "![timeline](timeline.png)", ""]
    (folder / "report.md").write_text("\n".join(lines))
    plot_timeline(folder / "timeline.png", load, outcomes, t0)


def plot_timeline(path: Path, load: Load, outcomes: list[Outcome], t0: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = int(max(a.end for a in load.attempts) - t0) + 1
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    for ax, route in zip(axes, ("grpc", "redis")):
        ok, failed = [0] * end, [0] * end
        for a in load.attempts:
            if a.route == route:
                (ok if a.status == 201 else failed)[int(a.end - t0)] += 1
        ax.plot(range(end), ok, label="201/s", color="tab:green")
        ax.plot(range(end), failed, label="errors/s (retried)", color="tab:red")
        for o in outcomes:
            ax.axvspan(o.start - t0, max(o.back, o.start + 0.3) - t0, color="tab:orange", alpha=0.25)
            if ax is axes[0]:
                ax.text(o.start - t0, 1.02, o.fault, fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_ylabel(f"route {route}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
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
        for name in FAULTS_CHOSEN:
            print(f"chaos: {name}", flush=True)
            outcomes.append(run_fault(stack, load, name))
            for v in outcomes[-1].violations:
                print(f"chaos:   VIOLATION {v}", flush=True)
        write_report(folder, load, outcomes, t0)
    finally:
        stack.down()
    shutil.rmtree(stack.state / "mariadb")  # the logs stay
    print((folder / "report.md").read_text())
    print(f"chaos: report in {folder}/report.md")
    sys.exit(1 if any(o.violations for o in outcomes) else 0)


if __name__ == "__main__":
    main()
