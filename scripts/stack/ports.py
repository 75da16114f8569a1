"""The local stack's ports and its stack.env: chosen once, kept between runs, read by every
tool that talks to the stack. `state` is the stack's folder, STATE (NOTAS_STATE, default
.dev) unless a tool runs its own stack (`just bench` uses .dev/bench)."""

import json
import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
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
    """state/stack.env: KEY=value lines, for the supervisor and for the justfile's `. .dev/stack.env`;
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
