"""Running the stack: the supervisor (scripts/common/supervisor.py) over the Procfile
`prepare` wrote, starting it in the background for the tools that need one (`just bench`),
and waiting until every process answers and the report summaries have caught up."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TextIO

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
