"""`just loadtest [smoke|brief|stress] [target URL] [split|queue|all]`: one Locust run and its
report.

The run has four steps:
- the preset and the routes give the load and the path the users post to;
- the target gives the stores and the Prometheus the report reads: the local stack's from
  .dev/stack.env, kind's through `kubectl port-forward` with the passwords from its Secrets,
  or a remote target's from LT_MYSQL, LT_REDIS, LT_PREFIX and LT_PROMETHEUS;
- a probe checks that notas answers there (and, for `all`, that route 3 is in the split);
- Locust runs headless between the report's snapshots, in locust/runs/<time>-<preset>[-routes]/.

The pure steps are functions of their inputs, so the tests hold them without a stack.
Refusals print one line and exit 2, as the recipe did.
"""

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from scripts.common.contract import KEY_PREFIX
from scripts.loadtest.report import write
from scripts.loadtest.routes import Sources
from scripts.loadtest.snapshot import empty_snapshot, snapshot
from scripts.stack import STATE, read_env

LOCUST = Path(".dev/venv/bin/locust")
KIND = ["kubectl", "--context", "kind-notas", "-n", "so1p2"]
# A target kind's ingress may be (`just up` maps its port 80 to this machine).
KIND_ADDRESS = re.compile(r"^http://(localhost|127\.0\.0\.1)(:[0-9]+)?/?$")
FORWARDED = re.compile(r"^Forwarding from 127\.0\.0\.1:([0-9]+) ", re.MULTILINE)
# kind's Services, as `just up` writes them into the Secrets' URLs.
KIND_PORTS = {"mysql": 3306, "redis": 6379, "prometheus": 9090}


class Refused(Exception):
    """A run that cannot start: its message is printed, and the exit code is 2."""


@dataclass
class Load:
    """A preset: Locust's users, spawn rate, duration and processes (-1: one per core), and
    whether any failed request fails the run."""

    users: str
    spawn: str
    duration: str
    processes: str
    strict: bool = False


# One FastHttpUser process sends the brief's ~575 requests/s with a third of a core; forked
# workers cost more CPU per request, so only stress has one per core.
PRESETS = {
    "smoke": Load("20", "10", "20s", "1", strict=True),
    "brief": Load("200", "20", "2m", "1"),
    "stress": Load("1000", "100", "3m", "-1"),
}


def aim(routes: str) -> tuple[str, str]:
    """Where the users post for `routes`, and the x-notas-split header's value ("": none).
    Routes 1 and 2 have no path of their own at the entry point: the Ingress (and the GKE
    Gateway) split /notas between them."""
    paths = {"split": ("/notas", ""), "queue": ("/queue/notas", ""), "all": ("/notas", "all")}
    if routes in ("grpc", "redis"):
        raise Refused(
            "routes 1 and 2 have no path of their own at the entry point (it splits /notas between them): "
            "split, queue or all"
        )
    if routes not in paths:
        raise Refused(
            f"unknown routes '{routes}': split (routes 1 and 2, /notas), queue (route 3, /queue/notas) "
            "or all (the three)"
        )
    return paths[routes]


def load(preset: str, env: dict[str, str], cores: int | None = None) -> Load:
    """The preset's load with LT_USERS, LT_SPAWN, LT_DURATION and LT_PROCESSES over it; -1
    processes is one per core, counted as Locust counts them (os.cpu_count)."""
    if preset not in PRESETS:
        raise Refused(f"unknown preset '{preset}': smoke, brief or stress")
    base = PRESETS[preset]
    chosen = Load(
        env.get("LT_USERS") or base.users,
        env.get("LT_SPAWN") or base.spawn,
        env.get("LT_DURATION") or base.duration,
        env.get("LT_PROCESSES") or base.processes,
        base.strict,
    )
    if chosen.processes == "-1":
        chosen.processes = str(cores or os.cpu_count())
    return chosen


def where(target: str, local: str, lt_mysql: str) -> str:
    """Which kind of target this is: `local` (the stack of `just dev`, whose NOTAS_URL is
    `local`, "" when none runs), `kind?` (kind's ingress, if its Secrets answer) or `remote`."""
    if not target or target == local:
        if not local:
            raise Refused("no local stack: run 'just dev' first, or pass target=URL")
        return "local"
    if not lt_mysql and KIND_ADDRESS.match(target):
        return "kind?"
    return "remote"


def forwarded_port(log: str) -> int | None:
    """The local port `kubectl port-forward` says it listens on, once it has said so."""
    found = FORWARDED.search(log)
    return int(found.group(1)) if found else None


def run_dir(preset: str, routes: str, now: datetime) -> Path:
    """locust/runs/<time>-<preset>, with -queue or -all when the run is not the split."""
    suffix = "" if routes == "split" else f"-{routes}"
    return Path("locust/runs") / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{preset}{suffix}"


def run_json(target: str, preset: str, routes: str, path: str, split: str, chosen: Load) -> str:
    """run.json: the run's aim and load, which the report prints at its top."""

    def value(text: str):
        try:
            return json.loads(text)
        except ValueError:
            return text

    return json.dumps(
        {
            "target": target,
            "preset": preset,
            "routes": routes,
            "path": path + (f" (x-notas-split: {split})" if split else ""),
            "users": value(chosen.users),
            "spawn rate": value(chosen.spawn),
            "duration": chosen.duration,
            "Locust processes": value(chosen.processes),
        }
    )


def locust_command(run: Path, target: str, chosen: Load) -> list[str]:
    """Locust, headless. --stop-timeout: at the end each user may finish the grade it is sending
    (with its retries); Locust still ends some with a request in flight, which the report
    counts as cut at the stop from the keys sent."""
    processes = ["--processes", chosen.processes] if int(chosen.processes) > 1 else []
    return [
        str(LOCUST), "-f", "locust/locustfile.py", "--headless",
        "-u", chosen.users, "-r", chosen.spawn, "-t", chosen.duration, *processes,
        "--host", target, "--csv", f"{run}/locust", "--csv-full-history", "--html", f"{run}/locust.html",
        "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "15",
    ]  # fmt: skip


def answers(url: str, split: str) -> str:
    """The route that answers GET `url` (its x-notas-route header), "" when none does."""
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        conn = connection(parts.netloc, timeout=30)
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=_split(split))
        route = conn.getresponse().getheader("x-notas-route") or ""
        conn.close()
        return route.strip()
    except (OSError, http.client.HTTPException):
        return ""


def _split(split: str) -> dict[str, str]:
    return {"x-notas-split": split} if split else {}


def probe(target: str, path: str, split: str) -> None:
    """Refuses a target notas does not answer at, and `all` where the split has no route 3:
    kind's ingress-nginx has no three-way split and ignores the header."""
    if not answers(target + path, split):
        raise Refused(
            f"{target}{path} is not answered by notas (no x-notas-route header): is the stack up at that address?"
        )
    if split and not any(answers(target + path, split) == "queue" for _ in range(40)):
        raise Refused(
            f"{target} has no three-way split (POST /notas with x-notas-split: all never reached route 3): "
            "split or queue"
        )


def kind_has_secrets() -> bool:
    """Whether kind's cluster of `just up` answers for its MySQL Secret."""
    try:
        found = subprocess.run([*KIND, "get", "secret", "notas-mysql"], capture_output=True)
    except OSError:
        return False
    return found.returncode == 0


def secret(name: str, key: str) -> str:
    """One value of a Secret of kind's cluster, decoded."""
    found = subprocess.run(
        [*KIND, "get", "secret", name, "-o", f"jsonpath={{.data.{key}}}"], capture_output=True, text=True, check=True
    )
    return base64.b64decode(found.stdout.strip()).decode()


def forward(name: str, forwards: ExitStack) -> Path:
    """Starts `kubectl port-forward svc/<name>` to a free local port for as long as
    `forwards` lasts; its output goes to .dev/forward-<name>.log."""
    log = STATE / f"forward-{name}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*KIND, "port-forward", f"svc/{name}", f":{KIND_PORTS[name]}"], stdout=out, stderr=subprocess.STDOUT
        )
    forwards.callback(lambda: (process.terminate(), process.wait()))
    return log


def local_port(name: str, log: Path) -> int:
    for _ in range(50):
        port = forwarded_port(log.read_text(errors="replace"))
        if port:
            return port
        time.sleep(0.2)
    print(f"kubectl port-forward svc/{name} did not start: {log.read_text(errors='replace')}", file=sys.stderr)
    sys.exit(1)


def kind_sources(forwards: ExitStack) -> Sources:
    """kind's MySQL, Redis and Prometheus through port-forwards, with the passwords from the
    cluster's Secrets."""
    STATE.mkdir(exist_ok=True)
    logs = {name: forward(name, forwards) for name in KIND_PORTS}
    mysql_url, redis_url = secret("notas-mysql", "url"), secret("notas-redis", "url")
    ports = {name: local_port(name, log) for name, log in logs.items()}
    return Sources(
        mysql=mysql_url.replace("@mysql:3306", f"@127.0.0.1:{ports['mysql']}", 1),
        redis=redis_url.replace("@redis:6379", f"@127.0.0.1:{ports['redis']}", 1),
        prometheus=f"http://127.0.0.1:{ports['prometheus']}",
        cpu="cadvisor",
    )


def resolve(target: str, env: dict[str, str], forwards: ExitStack) -> tuple[str, Sources, dict[str, str]]:
    """The target's URL, where the report reads its figures, and the environment of the
    run's processes (the local stack's settings added)."""
    stack_env = STATE / "stack.env"
    stack = read_env() if stack_env.exists() else {}
    kind = where(target, stack.get("NOTAS_URL", ""), env.get("LT_MYSQL", ""))
    prefix = env.get("LT_PREFIX") or KEY_PREFIX
    if kind == "local":
        sources = Sources(
            mysql=env.get("LT_MYSQL") or stack["MYSQL_URL"],
            redis=env.get("LT_REDIS") or stack["REDIS_URL"],
            prefix=prefix,
            prometheus=env.get("LT_PROMETHEUS") or stack["PROMETHEUS_URL"],
            cpu="local",
        )
        return stack["NOTAS_URL"], sources, {**env, **stack}
    if kind == "kind?" and kind_has_secrets():
        sources = kind_sources(forwards)
        sources.prefix = prefix
        return target, sources, env
    prometheus = env.get("LT_PROMETHEUS", "")
    sources = Sources(
        mysql=env.get("LT_MYSQL", ""),
        redis=env.get("LT_REDIS", ""),
        prefix=prefix,
        prometheus=prometheus,
        cpu="cadvisor" if prometheus else None,
    )
    return target, sources, env


def main(preset: str, target: str, routes: str) -> int:
    env = dict(os.environ)
    try:
        path, split = aim(routes)
        chosen = load(preset, env)
        with ExitStack() as forwards:
            target, sources, run_env = resolve(target, env, forwards)
            probe(target, path, split)
            run = run_dir(preset, routes, datetime.now(timezone.utc))
            run.mkdir(parents=True, exist_ok=True)
            (run / "run.json").write_text(run_json(target, preset, routes, path, split, chosen) + "\n")
            before = snapshot(sources) if sources.mysql else empty_snapshot(sources)
            (run / "before.json").write_text(json.dumps(before) + "\n")
            locust_env = {**run_env, "NOTAS_RUN_DIR": str(run), "NOTAS_PATH": path, "NOTAS_SPLIT": split}
            locust = subprocess.Popen(locust_command(run, target, chosen), env=locust_env)
            try:
                code = locust.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached Locust too: let it write its files and stop, as the recipe did.
                locust.wait()
                raise
            if code:
                return code
            sys.stdout.flush()
            if write(run, run / "before.json", sources, chosen.strict):
                return 1
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except subprocess.CalledProcessError as failed:
        print(f"{' '.join(failed.cmd)} failed: {failed.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"report: {run}/report.md")
    return 0
