"""The command line of each process of the stack, as its Procfile and the fault suite
run them (`exec`, so that the process signalled is the server itself)."""

import os
import shutil
import sys
from pathlib import Path

from scripts.stack.ports import ROOT, STATE

PROFILE = os.environ.get("NOTAS_PROFILE", "debug")


def find(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin")
    if not path:
        sys.exit(f"stack: {binary} is missing (scripts/bootstrap.sh installs it)")
    return path


def mariadb_command(port: int, state: Path = STATE) -> str:
    user = " --user=root" if os.geteuid() == 0 else ""
    return (
        f"exec {find('mariadbd')} --no-defaults --datadir={state}/mariadb/data --socket={state}/mariadb/mariadb.sock"
        f" --port={port} --bind-address=127.0.0.1 --log-error={state}/logs/mariadb.log"
        f" --innodb-buffer-pool-size=256M --init-file={state}/mariadb/users.sql{user}"
    )


def redis_command(port: int, state: Path = STATE, password: str = "") -> str:
    # As in the cluster, Redis keeps nothing on disk: after a restart route 2 rebuilds the
    # live view from MySQL (crates/redis-api/src/rebuild.rs). And, as in the cluster, it asks
    # for a password (AUTH) when given one, kept in its configuration file, which only this
    # user may read, rather than on its command line.
    config = state / "redis" / "redis.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch()
    config.chmod(0o600)
    config.write_text(f"requirepass {password}\n" if password else "")
    return (
        f"exec {find('redis-server')} {config} --port {port} --bind 127.0.0.1 --dir {state}/redis"
        f" --appendonly no --save '' --logfile {state}/logs/redis.log"
    )


def tansu() -> str:
    """The broker's binary: TANSU, else the one scripts/bootstrap.sh links into .dev/bin."""
    path = os.environ.get("TANSU", str(ROOT / ".dev" / "bin" / "tansu"))
    if not os.access(path, os.X_OK):
        sys.exit(f"stack: {path} is missing (scripts/bootstrap.sh builds tansu once per machine)")
    return path


def kafka_command(port: int, state: Path = STATE) -> str:
    # tansu, its SQLite engine: one file under the state folder, durable across restarts. Its
    # log at INFO is a line per span; warnings go to its own file, as MariaDB's and Redis' do.
    (state / "kafka").mkdir(parents=True, exist_ok=True)
    listener = f"tcp://127.0.0.1:{port}"
    return (
        f"cd {state}/kafka && RUST_LOG=warn exec {tansu()} broker --listener-url {listener}"
        f" --advertised-listener-url {listener} --storage-engine sqlite://grades.db >> {state}/logs/kafka.log 2>&1"
    )


def nginx_command(state: Path = STATE) -> str:
    return f"exec {find('nginx')} -p {state}/nginx -c {state}/nginx/nginx.conf -e {state}/logs/nginx-error.log -g 'daemon off;'"


def prometheus_command(port: int, state: Path = STATE) -> str:
    return (
        f"exec {find('prometheus')} --config.file={state}/prometheus/prometheus.yml"
        f" --storage.tsdb.path={state}/prometheus/data --storage.tsdb.retention.time=2d"
        f" --web.listen-address=127.0.0.1:{port} --log.level=warn"
    )


def service_command(service: str, profile: str = PROFILE, **env: str) -> str:
    """A service's binary from target/`profile`, with `env` (LISTEN_ADDR, ...) set."""
    settings = "".join(f"{name}={value} " for name, value in env.items())
    return f"{settings}exec {ROOT}/target/{profile}/{service}"
