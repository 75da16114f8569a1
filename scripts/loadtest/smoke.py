"""`just smoke`: CI's load test, end to end against a local stack it starts and stops.

In order:
- the smoke preset for 10 s at the three routes, strict;
- the brief preset for 30 s, whose server-side figures must be measured for both routes;
- 20 grades through route 3's path and one refused grade per route, then every Grafana
  panel's query (scripts/checks/dashboards.py) and the edge's 429 and 413 (edge.py);
- the smoke preset against "kind", where scripts/testing/kind-kubectl answers for the
  cluster with the local stores;
- a server that is not notas, which `just loadtest` must refuse;
- no password of the stack in its logs;
- a killed MariaDB, which must end the stack naming itself.

Each `just loadtest` runs through `just`, as a user runs it. Any failure exits non-zero.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from scripts.stack import ROOT, STATE, read_env, read_ports

LOG = STATE / "smoke-stack.log"
BRIEF_LOG = STATE / "smoke-brief.log"
# Each route's latency row (count, p50, p95, p99) and CPU row (count, processes, total).
MEASURED_ROW = re.compile(
    r"^\| route [12] \([a-z]+\) \| [1-9][0-9]* \| ([0-9.]+ \| [0-9.]+ \| [0-9.]+|[a-z].* \| [0-9,]+) \|$"
)
NOT_MEASURED = re.compile(r"n/a|not measured|not counted", re.IGNORECASE)
NOT_NOTAS_PORT = 18999
MARIADB_DIED = "stack: the stack stopped because mariadb exited (killed by signal 9)"


class Failed(Exception):
    """A check that failed: its message goes to stderr, and the exit code is 1."""


def server_side(report: str) -> str:
    """The report's lines from `## Server side` to `## Reconciliation`, both included."""
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Server side")), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## Reconciliation")), len(lines) - 1)
    return "\n".join(lines[start : end + 1])


def measured(section: str) -> bool:
    """Whether the server side has numbers for both routes: no placeholder, and the latency
    and CPU rows of routes 1 and 2."""
    rows = [line for line in section.splitlines() if MEASURED_ROW.match(line)]
    return not NOT_MEASURED.search(section) and len(rows) == 4


class Smoke:
    def __init__(self, just: str):
        self.just, self.stack = just, None

    def loadtest(self, *args: str, env: dict[str, str] | None = None, **run) -> subprocess.CompletedProcess:
        return subprocess.run([self.just, "loadtest", *args], env={**os.environ, **(env or {})}, **run)

    def must(self, *args: str, **env: str) -> None:
        code = self.loadtest(*args, env=env).returncode
        if code:
            sys.exit(code)

    def start_stack(self) -> None:
        with open(LOG, "w") as log:
            self.stack = subprocess.Popen([self.just, "dev"], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(360):
            if "notas is up" in LOG.read_text(errors="replace"):
                return
            if self.stack.poll() is not None:
                break
            time.sleep(0.5)
        print(LOG.read_text(errors="replace"))
        sys.exit(1)

    def stop_stack(self) -> None:
        subprocess.run([self.just, "dev-down"], stdout=subprocess.DEVNULL)
        if self.stack is not None:
            self.stack.wait()

    def brief(self) -> None:
        """The brief preset's users and spawn rate, as users run it but for 30 s: it must pass,
        and its server-side figures must be measured."""
        env = {**os.environ, "LT_DURATION": "30s"}
        with open(BRIEF_LOG, "w") as log:
            run = subprocess.Popen([self.just, "loadtest", "brief"], env=env, stdout=subprocess.PIPE, text=True)
            for line in run.stdout:
                sys.stdout.write(line)
                log.write(line)
        if run.wait():
            sys.exit(run.returncode)
        report = next(
            line[len("report: ") :] for line in BRIEF_LOG.read_text().splitlines() if line.startswith("report: ")
        )
        section = server_side(Path(report).read_text())
        if not measured(section):
            raise Failed(f"the brief load test did not measure the server side:\n{section}")

    def panels(self) -> None:
        """Every Grafana panel's query, after that load, 20 grades through route 3's path
        (queued, then stored by its consumers: route 3's panels) and one refused grade per
        route (so that the error panels have series to show)."""
        notas = read_env()["NOTAS_URL"]
        for i in range(1, 21):
            grade = {
                "carnet": 900000 + i,
                "nombre": f"Smoke {i}",
                "curso": "SO1",
                "nota": 75,
                "semestre": "2S",
                "year": 2023,
            }
            status = post(f"{notas}/queue/notas", json.dumps(grade).encode())
            if status != 202:
                raise Failed(f"POST /queue/notas answered {status}, not 202")
        ports = read_ports()
        for service in ("grpc-client", "redis-api", "queue-api"):
            post(f"http://127.0.0.1:{ports[service]}/notas", b"{}")
        time.sleep(5)
        python_module("scripts.checks.dashboards")
        # The edge's refusals: a second nginx from the same Ingresses at one grade a second.
        python_module("scripts.checks.edge")

    def on_kind(self, fake: Path) -> None:
        """The smoke preset against "kind", with two Locust worker processes, as stress runs:
        each writes its own ids and CPU files."""
        (fake / "kubectl").symlink_to(ROOT / "scripts" / "testing" / "kind-kubectl")
        target = read_env()["NOTAS_URL"].replace("127.0.0.1", "localhost")
        path = f"{fake}{os.pathsep}{os.environ['PATH']}"
        self.must("smoke", target, PATH=path, LT_DURATION="5s", LT_PROCESSES="2")

    def not_notas(self, fake: Path) -> None:
        """A server that answers 200 everywhere (like the frontend's page fallback) is not notas."""
        site = fake / "site"
        site.mkdir()
        (site / "healthz").touch()
        (site / "notas").touch()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", site, str(NOT_NOTAS_PORT)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1)
            with open(fake / "refused.log", "w") as refused:
                ran = self.loadtest(
                    "smoke", f"http://127.0.0.1:{NOT_NOTAS_PORT}", env={"LT_MYSQL": "unused"}, stderr=refused
                )
        finally:
            server.terminate()
            server.wait()
        if ran.returncode == 0:
            raise Failed("just loadtest ran against a server that is not notas")
        said = (fake / "refused.log").read_text()
        if "is not answered by notas" not in said:
            raise Failed(said)

    def mariadb_dies(self) -> None:
        """A process that dies ends the stack, which says last which one and how."""
        wanted = f"mariadbd --no-defaults --datadir={ROOT}/.dev/mariadb/data"
        killed = 0
        for proc in psutil.process_iter(["cmdline"]):
            if wanted in " ".join(proc.info["cmdline"] or ()):
                try:
                    proc.kill()
                    killed += 1
                except psutil.NoSuchProcess:
                    pass
        if not killed:
            raise Failed(f"no process runs {wanted}")
        for _ in range(120):
            if self.stack.poll() is not None:
                break
            time.sleep(0.5)
        if MARIADB_DIED not in LOG.read_text(errors="replace"):
            raise Failed("\n".join(LOG.read_text(errors="replace").splitlines()[-30:]))


def post(url: str, body: bytes) -> int:
    """POST `body` as JSON; the answer's status."""
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def python_module(name: str, *args: str) -> None:
    """Runs a tool of this package in its own process, as the recipe did; raises
    CalledProcessError when it fails."""
    subprocess.run([sys.executable, "-m", name, *args], check=True)


def main(just: str) -> int:
    smoke = Smoke(just)
    try:
        smoke.start_stack()
        # The three routes at once (the split and route 3's path), strict: every 201 a row,
        # every 202 stored once within the bound. The split alone is the brief run's below.
        smoke.must("smoke", "", "all", LT_DURATION="10s")
        smoke.brief()
        smoke.panels()
        with tempfile.TemporaryDirectory() as folder:
            smoke.on_kind(Path(folder))
            smoke.not_notas(Path(folder))
        # Secrets never print: none of the stack's passwords is in its logs after all of that.
        python_module("scripts.stack", "logs-without-secrets")
        smoke.mariadb_dies()
    except Failed as failure:
        print(failure, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failure:
        return failure.returncode
    finally:
        smoke.stop_stack()
    return 0
