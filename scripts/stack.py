"""The local stack as the Python tools share it: its ports, its `stack.env`, starting it in
the background and waiting until it answers, and connecting to a MySQL URL.

`devstack.py` (`just dev`), `bench.py` (`just bench`, whose stack lives in .dev/bench) and
`loadtest_report.py` import this module; each function takes the stack's folder, `state`,
which defaults to STATE (NOTAS_STATE, default .dev). Also what `just bench` and the load
test's report both measure: the stack's processes and their CPU seconds, the report
summaries still owed, route 3's backlog in the broker, and instant queries to a Prometheus.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from scripts.common.stores import mysql_connect

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / os.environ.get("NOTAS_STATE", ".dev")

# Preferred ports; any that is taken is replaced by a free one.
PREFERRED_PORTS = {
    "nginx": 8080,
    "mariadb": 13306,
    "redis": 16379,
    "grpc-server": 50051,
    "grpc-server-admin": 9091,
    "grpc-client": 8081,
    "redis-api": 8082,
    "dashboard-api": 8083,
    "monitor": 8084,
    "prometheus": 9090,
    "kafka": 19092,
    "queue-api": 8085,
    "grade-consumer": 8086,
    "grade-consumer-2": 8087,
}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assign_ports(saved: dict[str, int], is_free=_port_free, fresh=free_port) -> dict[str, int]:
    """A port for every process: the one it had (`saved`), else its preferred one, if free
    (`is_free`) and not given to another process already; else a `fresh` one."""
    ports = {}
    for name, preferred in PREFERRED_PORTS.items():
        for candidate in (saved.get(name), preferred):
            if candidate and candidate not in ports.values() and is_free(candidate):
                ports[name] = candidate
                break
        else:
            ports[name] = fresh()
    return ports


def choose_ports(state: Path = STATE) -> dict[str, int]:
    """Every process's port, kept from the last run unless something else took it since,
    saved in state/ports.json."""
    ports_file = state / "ports.json"
    ports = assign_ports(json.loads(ports_file.read_text()) if ports_file.exists() else {})
    ports_file.write_text(json.dumps(ports, indent=2) + "\n")
    return ports


def read_ports(state: Path = STATE) -> dict[str, int]:
    """The ports `choose_ports` saved for the stack in `state`."""
    return json.loads((state / "ports.json").read_text())


def write_env(env: dict[str, str], state: Path = STATE) -> None:
    """state/stack.env: KEY=value lines, for honcho and for the justfile's `. .dev/stack.env`;
    readable by this user only, as it holds the services' MySQL password."""
    path = state / "stack.env"
    path.touch()
    path.chmod(0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def read_env(state: Path = STATE, name: str = "stack.env") -> dict[str, str]:
    """What `write_env` wrote: MYSQL_URL, REDIS_URL, NOTAS_URL and the services' settings
    (or another KEY=value file of `state`, such as the migration step's migrate.env)."""
    lines = (state / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def running_pid(state: Path = STATE) -> int | None:
    """The pid of the honcho running the stack in `state`, if one is running."""
    try:
        pid = int((state / "honcho.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def run_honcho(state: Path = STATE, **popen) -> subprocess.Popen:
    """honcho running the stack prepared in `state` (its Procfile and stack.env), its pid
    in state/honcho.pid for `down`; `popen` says where its output goes."""
    # honcho is installed next to this Python, in the tools' venv.
    honcho = Path(sys.executable).parent / "honcho"
    stack = subprocess.Popen(
        [
            str(honcho),
            "-e",
            str(state / "stack.env"),
            "-f",
            str(state / "Procfile"),
            "-d",
            str(ROOT),
            "start",
        ],
        cwd=ROOT,
        stderr=subprocess.STDOUT,
        **popen,
    )
    (state / "honcho.pid").write_text(str(stack.pid))
    return stack


def start(state: Path, environ: dict[str, str], log: Path) -> subprocess.Popen:
    """Prepare the stack in `state` and start it in the background, in its own session,
    with honcho's output in `log` (`just dev` does the same in the foreground). It is not
    ready yet: see `wait_until_ready`."""
    environ = {**environ, "NOTAS_STATE": str(state)}
    subprocess.run(
        [sys.executable, "-m", "scripts.devstack", "prepare"],
        check=True,
        env=environ,
        cwd=ROOT,
    )
    with open(log, "w") as output:
        return run_honcho(state, env=environ, stdout=output, start_new_session=True)


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
