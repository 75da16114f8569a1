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


def nisshi() -> str:
    """The broker's binary: NISSHI, else the one scripts/bootstrap.sh links into .dev/bin."""
    path = os.environ.get("NISSHI", str(ROOT / ".dev" / "bin" / "nisshi"))
    if not os.access(path, os.X_OK):
        sys.exit(f"stack: {path} is missing (scripts/bootstrap.sh builds nisshi once per machine)")
    return path


# The broker's log in its state folder. tansu 0.6.0, the broker before nisshi, kept its log in
# grades.db there; nisshi 0.8.1's schema differs, so it starts a file of its own beside it.
BROKER_LOG, TANSU_LOG = "nisshi.db", "grades.db"
# How long nisshi holds the first join of an empty consumer group, waiting for more members
# (Kafka's group.initial.rebalance.delay.ms). 1 s forms the stack's group of two in one
# generation, 2.0 s after its members join; nisshi's default, 3 s, takes 6.1 s. Measured, and
# explained, beside notas-testkit's TestBroker (crates/notas-testkit/src/broker.rs).
GROUP_DELAY = "1s"


def old_broker_log(state: Path = STATE) -> str | None:
    """What to tell the user when the state folder still holds tansu's log, else None."""
    old = state / "kafka" / TANSU_LOG
    if not old.exists() or (state / "kafka" / BROKER_LOG).exists():
        return None
    return (
        f"stack: {old} is tansu 0.6.0's log, which nisshi cannot read; nisshi starts a new one"
        f" beside it ({BROKER_LOG}). The grades already stored are in MySQL and stay. Lost are only"
        " the grades tansu accepted (202) that no consumer had stored yet: none after a drained"
        f" run. Delete {old} when you no longer need it."
    )


def kafka_command(port: int, state: Path = STATE) -> str:
    # nisshi, its SQLite engine: one file under the state folder, durable across restarts. Its
    # log at INFO is a line per span; warnings go to its own file, as MariaDB's and Redis' do.
    (state / "kafka").mkdir(parents=True, exist_ok=True)
    if notice := old_broker_log(state):
        print(notice, file=sys.stderr)
    listener = f"tcp://127.0.0.1:{port}"
    return (
        f"cd {state}/kafka && RUST_LOG=warn exec {nisshi()} broker --listener-url {listener}"
        f" --advertised-listener-url {listener} --storage-engine sqlite://{BROKER_LOG}"
        f" --group-initial-rebalance-delay {GROUP_DELAY} >> {state}/logs/kafka.log 2>&1"
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
