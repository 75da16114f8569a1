"""Running the stack: the supervisor (scripts/common/supervisor.py) over the Procfile
`prepare` wrote, starting it in the background for the tools that need one (`just bench`),
and waiting until every process answers, route 3's consumer group holds every partition of
its topic, and the report summaries have caught up."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TextIO

from scripts.common.broker import GroupAssignment, unassigned
from scripts.common.stores import mysql_connect
from scripts.common.supervisor import Supervisor, read_procfile
from scripts.stack.ports import ROOT, STATE, read_env, read_ports

# The pid of the process that supervises the stack (`python -m scripts.stack run`), for `down`.
PID_FILE = "stack.pid"


def running_pid(state: Path = STATE) -> int | None:
    """The pid of the supervisor running the stack in `state`, if one is running."""
    try:
        pid = int((state / PID_FILE).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def supervisor(state: Path = STATE, output: TextIO | None = None) -> Supervisor:
    """The supervisor of the stack prepared in `state`: its Procfile's processes, with the
    settings of its stack.env, their output to `output` (default stdout)."""
    env = {**os.environ, **read_env(state)}
    return Supervisor(read_procfile(state / "Procfile"), env=env, cwd=ROOT, output=output)


def start(state: Path, environ: dict[str, str], log: Path) -> subprocess.Popen:
    """Prepare the stack in `state` and start it in the background, in its own session,
    with its output in `log` (`just dev` runs the same in the foreground). It is not
    ready yet: see `wait_until_ready`. SIGTERM to its process group stops it."""
    environ = {**environ, "NOTAS_STATE": str(state)}
    subprocess.run(
        [sys.executable, "-m", "scripts.stack", "prepare"],
        check=True,
        env=environ,
        cwd=ROOT,
    )
    with open(log, "w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.stack", "run"],
            env=environ,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_ready(state: Path = STATE, seconds: float = 180, alive=lambda: True) -> list[str]:
    """Poll every service's readiness (and nginx's health) until all answer 200, `seconds`
    pass or `alive()` turns false; returns the processes that never answered."""
    ports, env = read_ports(state), read_env(state)
    return wait_for(
        {
            "grpc-server": f"http://127.0.0.1:{ports['grpc-server-admin']}/readyz",
            "grpc-client": f"http://127.0.0.1:{ports['grpc-client']}/readyz",
            "redis-api": f"http://127.0.0.1:{ports['redis-api']}/readyz",
            "dashboard-api": f"http://127.0.0.1:{ports['dashboard-api']}/readyz",
            "monitor": f"http://127.0.0.1:{ports['monitor']}/readyz",
            "queue-api": f"http://127.0.0.1:{ports['queue-api']}/readyz",
            "grade-consumer": f"http://127.0.0.1:{ports['grade-consumer']}/readyz",
            "grade-consumer-2": f"http://127.0.0.1:{ports['grade-consumer-2']}/readyz",
            "prometheus": f"http://127.0.0.1:{ports['prometheus']}/-/ready",
            "nginx": f"{env['NOTAS_URL']}/healthz",
        },
        seconds,
        alive,
    )


def wait_for(urls: dict[str, str], seconds: float, alive=lambda: True) -> list[str]:
    """Poll `urls` (name: URL) until each answers 200, `seconds` pass or `alive()` turns
    false; returns the names that never answered."""
    pending = dict(urls)
    deadline = time.time() + seconds
    while pending and time.time() < deadline and alive():
        for name, url in list(pending.items()):
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        del pending[name]
            except OSError:
                pass
        time.sleep(0.5)
    return list(pending)


def summaries_owed(mysql_url: str) -> int:
    """Batches whose report summaries the writers' summarizers have not applied yet."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM summary_backlog")
        return cur.fetchone()[0]


def wait_for_summaries(mysql_url: str, seconds: float = 120) -> float:
    """Seconds until the summarizers have cleared the backlog a load left (the CPU a
    record costs includes its summaries); exits if they take longer than `seconds`."""
    start = time.time()
    while summaries_owed(mysql_url) and time.time() - start < seconds:
        time.sleep(0.05)
    if summaries_owed(mysql_url):
        sys.exit(f"the report summaries did not catch up within {seconds:.0f} s")
    return time.time() - start


# How long the stack waits, once every process answers, for route 3's consumer group to hold
# every partition: a member of an earlier run killed without leaving keeps its partitions
# until its session times out (KAFKA_SESSION_TIMEOUT_MS, 10 s by default), then the group
# rebalances.
ASSIGNED_WITHIN = 60.0

# How to recover a stuck group without deleting a grade.
RECOVERY = """\
  The grades accepted so far are kept: those stored are in MySQL, the others wait in the
  broker's log ({state}/kafka). The consumers must join the group again:
    1. stop the stack: Ctrl-C here, or `just dev-down`;
    2. start it again: `just dev`. The consumers resume from their committed offsets.
  Do not run `just dev-clean`: it deletes {state}/kafka, and the grades accepted and not
  stored with it."""


def stuck_message(topic: str, partitions: list[int], held: dict[str, list[int]]) -> str:
    """Why route 3's group is not working: the partitions no member holds, and what each
    member holds."""
    missing = unassigned(held, partitions)
    members = "; ".join(f"{m} holds {', '.join(map(str, ps)) or 'nothing'}" for m, ps in held.items())
    return (
        f"no grade-consumer holds partition{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}"
        f" of {topic} ({len(partitions)} partitions; {members or 'no member'}): grades accepted there are not stored"
    )


def consumer_metrics(state: Path = STATE) -> dict[str, str]:
    """The /metrics URL of each grade-consumer of the stack."""
    ports = read_ports(state)
    return {name: f"http://127.0.0.1:{ports[name]}/metrics" for name in ("grade-consumer", "grade-consumer-2")}


def wait_until_assigned(
    brokers: str, members: dict[str, str], seconds: float = ASSIGNED_WITHIN, alive=lambda: True
) -> str | None:
    """Waits until route 3's consumers together hold every partition of their topic,
    `seconds` pass or `alive()` turns false. None when they do, else why not."""
    assignment = GroupAssignment(brokers, members)
    why = "the broker did not answer"
    deadline = time.time() + seconds
    try:
        while time.time() < deadline and alive():
            try:
                partitions = assignment.partitions()
            except Exception as e:
                why = f"the broker did not list the partitions of {assignment.topic}: {e}"
                time.sleep(1)
                continue
            held = assignment.held()
            if partitions and not unassigned(held, partitions):
                return None
            why = stuck_message(assignment.topic, partitions, held)
            time.sleep(0.5)
        return why
    finally:
        assignment.close()
