"""The local stack behind `just dev`: real MariaDB, Redis, nginx, Prometheus and Kafka (nisshi)
processes plus the services of the three routes, the dashboard and the host monitor, with
every file they write under `.dev/`
(ignored by git). Run from the repository root as `python -m scripts.stack COMMAND`
(the package's modules, which `just bench` and the fault suite share):

    prepare   pick ports, initialise MariaDB once, render nginx.conf from the
              kind overlay's Ingresses (k8s/components/ingress-nginx-split) and
              prometheus.yml from the processes that serve /metrics, and write
              .dev/Procfile and .dev/stack.env for the supervisor
    run       run every process of .dev/Procfile (scripts/common/supervisor.py);
              when one ends the others stop
    wait      (a Procfile entry) wait until every process answers and route 3's consumer
              group holds every partition of its topic, print the URLs; or say why not
              and how to recover without deleting a grade
    down      stop a running stack (what Ctrl-C does in its terminal)
    url       print the stack's entry URL (for `just loadtest`)
    logs-without-secrets   fail if a log of the stack holds one of its passwords

MYSQL_URL / REDIS_URL, when set, point the stack at existing servers instead of starting
MariaDB / Redis here; MYSQL_URL then names an account that may create the database and
users (root, say), as which the migration step runs. Either way the services connect as
`notas_app`, a user the migration step makes with exactly their privileges
(crates/notas-core/src/mysql/migrate.rs), with a new random password each time. NOTAS_STATE (default .dev) moves the whole stack to another
folder. NOTAS_PROFILE names the cargo profile whose binaries it runs, from target/NOTAS_PROFILE
(debug unless set; `just dev` sets quick-release). `just bench` sets both (its profile: release)
and NOTAS_EDGE_RATE_LIMIT=off, which leaves the edge's per-address rate limit out of nginx.
Ports are kept between runs and moved when something else
took them, so the stack never collides with servers already running.
"""

import os
import secrets
import signal
import sys
import time
from urllib.parse import urlparse

from scripts.common.supervisor import ended_message
from scripts.stack.commands import (
    PROFILE,
    kafka_command,
    mariadb_command,
    nginx_command,
    prometheus_command,
    redis_command,
    service_command,
)
from scripts.stack.control import (
    ASSIGNED_WITHIN,
    PID_FILE,
    RECOVERY,
    consumer_metrics,
    running_pid,
    supervisor,
    wait_until_assigned,
    wait_until_ready,
)
from scripts.stack.mariadb import (
    MIGRATE_ENV,
    as_app_user,
    init_mariadb,
    migration_command,
    mysql_users,
    redacted,
    write_migrate_env,
)
from scripts.stack.ports import ROOT, STATE, choose_ports, read_env, read_ports, write_env
from scripts.stack.render import THREE_WAY_HEADER, render_nginx, render_prometheus


def prepare() -> None:
    if pid := running_pid():
        sys.exit(f"stack: a stack is already running (pid {pid}); `just dev-down` stops it")
    for sub in ("logs", "nginx/tmp", "redis", "prometheus"):
        (STATE / sub).mkdir(parents=True, exist_ok=True)
    ports = choose_ports()
    servers = {name: [port] for name, port in ports.items()}
    rate_limit = os.environ.get("NOTAS_EDGE_RATE_LIMIT", "on") != "off"
    (STATE / "nginx" / "nginx.conf").write_text(
        render_nginx(servers, static_204=PROFILE == "release", rate_limit=rate_limit)
    )

    migrate_url = os.environ.get("MYSQL_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    procs = {}
    if migrate_url:
        mysql_url = as_app_user(migrate_url)
    else:
        init_mariadb()
        migrate_url, mysql_url = mysql_users(ports["mariadb"])
        procs["mariadb"] = mariadb_command(ports["mariadb"])
    write_migrate_env(migrate_url, mysql_url)
    if not redis_url:
        password = secrets.token_hex(16)
        redis_url = f"redis://:{password}@127.0.0.1:{ports['redis']}"
        procs["redis"] = redis_command(ports["redis"], password=password)
    procs["nginx"] = nginx_command()
    # The migration step first, as the migration Job runs before the Deployments roll; the
    # other services wait for the schema by themselves.
    procs["grpc-server"] = (
        migration_command()
        + " && "
        + service_command(
            "grpc-server",
            LISTEN_ADDR=f"127.0.0.1:{ports['grpc-server']}",
            ADMIN_ADDR=f"127.0.0.1:{ports['grpc-server-admin']}",
        )
    )
    procs["grpc-client"] = service_command(
        "grpc-client",
        LISTEN_ADDR=f"127.0.0.1:{ports['grpc-client']}",
        GRPC_SERVER_URL=f"http://127.0.0.1:{ports['grpc-server']}",
    )
    procs["redis-api"] = service_command("redis-api", LISTEN_ADDR=f"127.0.0.1:{ports['redis-api']}")
    procs["dashboard-api"] = service_command(
        "dashboard-api",
        LISTEN_ADDR=f"127.0.0.1:{ports['dashboard-api']}",
        FRONTEND_DIR=f"{ROOT}/frontend/dist",
    )
    procs["monitor"] = service_command("monitor", LISTEN_ADDR=f"127.0.0.1:{ports['monitor']}")
    # Route 3: its broker, then queue-api and a consumer group of two; the first consumer
    # creates the topics (the cluster declares them as KafkaTopics) before it joins.
    procs["kafka"] = kafka_command(ports["kafka"])
    procs["queue-api"] = service_command("queue-api", LISTEN_ADDR=f"127.0.0.1:{ports['queue-api']}")
    procs["grade-consumer"] = f"{ROOT}/target/{PROFILE}/grade-consumer --create-topics && " + service_command(
        "grade-consumer", LISTEN_ADDR=f"127.0.0.1:{ports['grade-consumer']}"
    )
    procs["grade-consumer-2"] = service_command("grade-consumer", LISTEN_ADDR=f"127.0.0.1:{ports['grade-consumer-2']}")
    procs["prometheus"] = prometheus_command(ports["prometheus"])
    (STATE / "prometheus" / "prometheus.yml").write_text(
        render_prometheus(
            {
                name: [f"127.0.0.1:{ports['grpc-server-admin' if name == 'grpc-server' else name]}"]
                for name in ("grpc-server", "grpc-client", "redis-api", "dashboard-api", "monitor", "queue-api")
            }
            | {"grade-consumer": [f"127.0.0.1:{ports[name]}" for name in ("grade-consumer", "grade-consumer-2")]}
        )
    )
    procs["ready"] = f"cd {ROOT} && exec {sys.executable} -m scripts.stack wait"
    (STATE / "Procfile").write_text("".join(f"{name}: {cmd}\n" for name, cmd in procs.items()))

    env = {
        "MYSQL_URL": mysql_url,
        "REDIS_URL": redis_url,
        "KAFKA_BROKERS": f"127.0.0.1:{ports['kafka']}",
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        # One tokio worker per service, as in a pod with a 1-CPU limit (k8s/base): with every
        # process on the same cores, more workers mostly park and wake each other.
        "TOKIO_WORKER_THREADS": os.environ.get("TOKIO_WORKER_THREADS", "1"),
        "NOTAS_URL": f"http://127.0.0.1:{ports['nginx']}",
        "PROMETHEUS_URL": f"http://127.0.0.1:{ports['prometheus']}",
    }
    write_env(env)


def wait() -> None:
    pending = wait_until_ready()
    if pending:
        sys.exit(f"stack: not ready after 3 minutes: {', '.join(pending)} (logs in .dev/logs and above)")
    ports, env = read_ports(), read_env()
    why = wait_until_assigned(env["KAFKA_BROKERS"], consumer_metrics())
    if why:
        sys.exit(
            f"stack: not ready: {why} {ASSIGNED_WITHIN:.0f} s after every process answered.\n"
            + RECOVERY.format(state=STATE)
        )
    print(ready_message(ports, env), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def ready_message(ports: dict[str, int], env: dict[str, str]) -> str:
    """What `just dev` prints once the stack is up: where everything is."""
    url = env["NOTAS_URL"]
    return (
        "\n"
        f"  notas is up\n"
        f"  dashboard        {url}/\n"
        f"  POST grades      {url}/notas   (split 50/50: route 1 gRPC, route 2 Redis)\n"
        f"  route 1 direct   http://127.0.0.1:{ports['grpc-client']}/notas\n"
        f"  route 2 direct   http://127.0.0.1:{ports['redis-api']}/notas\n"
        f"  route 3 queued   {url}/queue/notas   (202, then GET the Location; direct: port {ports['queue-api']})\n"
        f"  three routes     {url}/notas with {': '.join(THREE_WAY_HEADER)}   (a third each)\n"
        f"  metrics          http://127.0.0.1:{ports['grpc-server-admin']}/metrics (grpc-server), /metrics on each service\n"
        f"  Prometheus       {env['PROMETHEUS_URL']}   (scrapes every service and the host monitor)\n"
        f"  MySQL            {redacted(env['MYSQL_URL'])}   (password in {STATE}/stack.env)\n"
        f"  Redis            {redacted(env['REDIS_URL'])}\n"
        f"  state and logs   {STATE}/\n"
        f"  load test        just loadtest   (another terminal)\n"
        f"  stop             Ctrl-C here, or just dev-down\n"
    )


def run() -> None:
    """Runs the stack in the foreground under the supervisor, which stops every process when
    one ends or on Ctrl-C (SIGINT) or `just dev-down` (SIGTERM). When a process ended by
    itself, says last which one and how, so it is not lost in the shutdown lines."""
    (STATE / PID_FILE).write_text(str(os.getpid()))
    ended = supervisor().run()
    if ended:
        name, returncode = ended
        log = STATE / "logs" / f"{name}.log"
        where = log if log.exists() else f"its lines above ({name} |)"
        print(f"stack: {ended_message(name, returncode)}; see {where}", file=sys.stderr)
        sys.exit(1)


def down() -> None:
    pid = running_pid()
    if not pid:
        print("stack: no stack is running")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        if not running_pid():
            print("stack: stopped")
            return
        time.sleep(0.2)
    sys.exit(f"stack: its supervisor (pid {pid}) did not stop within 60 s")


def url() -> None:
    print(read_env()["NOTAS_URL"])


def passwords_in(texts: dict[str, str], urls: list[str]) -> list[str]:
    """The names of `texts` (a log's name: its text) that hold a password of `urls`."""
    passwords = [p for p in (urlparse(u).password for u in urls) if p]
    return [name for name, text in texts.items() if any(p in text for p in passwords)]


def logs_without_secrets() -> None:
    """Fails naming every log of the stack (its processes' and its own output) that holds a
    password of the stack's MySQL or Redis users: secrets never print."""
    urls = [*read_env().values(), *read_env(STATE, MIGRATE_ENV).values()]
    logs = [*(STATE / "logs").glob("*.log"), *STATE.glob("*.log")]
    leaks = passwords_in({str(p): p.read_text(errors="replace") for p in logs}, urls)
    if leaks:
        sys.exit(f"stack: a password of the stack is in {', '.join(leaks)}")
    print(f"stack: no password in {len(logs)} logs")


if __name__ == "__main__":
    commands = {
        "prepare": prepare,
        "run": run,
        "wait": wait,
        "down": down,
        "url": url,
        "logs-without-secrets": logs_without_secrets,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python -m scripts.stack {{{'|'.join(commands)}}}")
    commands[sys.argv[1]]()
