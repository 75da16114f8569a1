"""The local stack behind `just dev`: real MariaDB, Redis, nginx, Prometheus and Kafka (tansu)
processes plus the services of the three routes, the dashboard and the host monitor, with
every file they write under `.dev/`
(ignored by git). Run from the repository root as `python -m scripts.devstack COMMAND`
(ports, stack.env, starting and waiting for the stack are in scripts/stack.py, which
`just bench` shares; the fault suite, scripts/chaos.py, runs the same command lines):

    prepare   pick ports, initialise MariaDB once, render nginx.conf from the
              kind overlay's Ingresses (k8s/components/ingress-nginx-split) and
              prometheus.yml from the processes that serve /metrics, and write
              .dev/Procfile and .dev/stack.env for honcho, the process manager
              that runs them all
    wait      (a Procfile entry) wait until every process answers, print the URLs
    down      stop a running stack (what Ctrl-C does in its terminal)
    url       print the stack's entry URL (for `just loadtest`)
    logs-without-secrets   fail if a log of the stack holds one of its passwords

MYSQL_URL / REDIS_URL, when set, point the stack at existing servers instead of starting
MariaDB / Redis here; MYSQL_URL then names an account that may create the database and
users (root, say), as which the migration step runs. Either way the services connect as
`notas_app`, a user the migration step makes with exactly their privileges
(crates/notas-core/src/mysql/migrate.rs), with a new random password each time. NOTAS_STATE (default .dev) moves the whole stack to another
folder and NOTAS_PROFILE=release runs the release binaries: `just bench` uses both, and
NOTAS_EDGE_RATE_LIMIT=off, which leaves the edge's per-address rate limit out of nginx.
Ports are kept between runs and moved when something else
took them, so the stack never collides with servers already running.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

from scripts.stack import (
    ROOT,
    STATE,
    choose_ports,
    read_env,
    read_ports,
    run_honcho,
    running_pid,
    wait_until_ready,
    write_env,
)

PROFILE = os.environ.get("NOTAS_PROFILE", "debug")
INGRESS = ROOT / "k8s" / "components" / "ingress-nginx-split" / "ingress.yaml"
TEMPLATE = ROOT / "scripts" / "nginx.conf.template"

# Which local process answers for each Kubernetes Service the Ingress names. dashboard-api
# serves the built frontend itself here (FRONTEND_DIR), where the cluster has a pod for it.
SERVICE_PROCESS = {
    "grpc-client": "grpc-client",
    "redis-api": "redis-api",
    "queue-api": "queue-api",
    "dashboard-api": "dashboard-api",
    "frontend": "dashboard-api",
}


def ingress_routes(
    ingress: Path = INGRESS,
) -> tuple[list[dict], dict[str, list[tuple[str, int]]]]:
    """The Ingress paths as (path, pathType, service) and, per canaried path, the
    services with their weights, the main Ingress's last (it takes what the canaries leave)."""
    docs = [d for d in yaml.safe_load_all(ingress.read_text()) if d and d.get("kind") == "Ingress"]
    main, canary = [], {}
    for doc in docs:
        notes = doc["metadata"].get("annotations", {})
        is_canary = notes.get("nginx.ingress.kubernetes.io/canary") == "true"
        weight = int(notes.get("nginx.ingress.kubernetes.io/canary-weight", "0"))
        for rule in doc["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                entry = {
                    "path": p["path"],
                    "type": p["pathType"],
                    "service": p["backend"]["service"]["name"],
                    "annotations": notes,
                }
                if is_canary:
                    canary.setdefault(entry["path"], []).append((entry["service"], weight))
                else:
                    main.append(entry)
    splits = {}
    for path, canaries in canary.items():
        # As ingress-nginx: a canary only shares a path that a main Ingress serves.
        base = next((e["service"] for e in main if e["path"] == path), None)
        if base is None:
            sys.exit(f"devstack: {ingress}: the canary of {path} has no main Ingress for that path")
        weight = sum(w for _, w in canaries)
        if not 0 <= weight <= 100:
            sys.exit(f"devstack: {ingress}: the canaries of {path} weigh {weight}, not 0 to 100")
        splits[path] = [*canaries, (base, 100 - weight)]
    return main, splits


# ingress-nginx's annotations of the edge's limits, by their short names.
ANNOTATION = "nginx.ingress.kubernetes.io/"


def edge_limits(annotations: dict, zone: str, rate_limit: bool = True) -> tuple[str, list[str]]:
    """What ingress-nginx makes of a main Ingress's limits, for one location: the http-level
    `limit_req_zone` and the location's directives. Per client address, `limit-rps` a second
    with bursts of `limit-burst-multiplier` (default 5) times that, answered without delay
    (its `buildRateLimit`); `proxy-body-size` as `client_max_body_size`; each code of
    `custom-http-errors` answered by the `default-backend` Service (the @edge_CODE locations
    of `edge_error_locations`). `rate_limit` False leaves the rate limit out (the bench
    measures the stack's own ceiling)."""
    get = lambda name: annotations.get(ANNOTATION + name)  # noqa: E731
    zones, directives = "", []
    if (rps := get("limit-rps")) and rate_limit:
        burst = int(rps) * int(get("limit-burst-multiplier") or 5)
        zones = f"    limit_req_zone $binary_remote_addr zone={zone}:5m rate={int(rps)}r/s;\n"
        directives.append(f"limit_req zone={zone} burst={burst} nodelay;")
    if size := get("proxy-body-size"):
        directives.append(f"client_max_body_size {size};")
    if codes := get("custom-http-errors"):
        directives.append("proxy_intercept_errors on;")
        directives += [f"error_page {code} = @edge_{code};" for code in codes.split(",")]
    return zones, directives


def edge_error_locations(main: list[dict]) -> str:
    """The named locations that hand the edge's refusals to the `default-backend` Service as
    ingress-nginx's CUSTOM_ERRORS do: `/` with the status in `X-Code`, its answer unchanged."""
    codes = {}
    for entry in main:
        notes = entry["annotations"]
        for code in filter(None, notes.get(ANNOTATION + "custom-http-errors", "").split(",")):
            codes[code] = notes[ANNOTATION + "default-backend"]
    return "\n".join(
        f"        location @edge_{code} {{\n"
        f"            proxy_set_header X-Code {code};\n"
        "            proxy_set_header Host $host;\n"
        "            rewrite (.*) / break;\n"
        f"            proxy_pass http://{service};\n"
        "        }"
        for code, service in sorted(codes.items())
    )


# The header that asks POST /notas for the three-way split, as the GKE Gateway's rule
# matches it (k8s/components/gateway-api-split); ingress-nginx weighs one canary per path, so
# the kind cluster has no three-way split.
THREE_WAY_HEADER = ("x-notas-split", "all")


def three_way_split(
    splits: dict[str, list[tuple[str, int]]],
) -> list[tuple[str, int]] | None:
    """POST /notas shared by the three routes, a third each: routes 1 and 2 as the Ingress
    splits /notas, route 3 (queue-api) beside them. None when /notas has no split."""
    if "/notas" not in splits:
        return None
    first, second = (svc for svc, _ in splits["/notas"])
    return [(first, 33), (second, 33), ("queue-api", 34)]


def render_nginx(
    servers: dict[str, list[int]],
    state: Path = STATE,
    static_204: bool = False,
    ingress: Path = INGRESS,
    rate_limit: bool = True,
) -> str:
    """nginx.conf for the local stack, from the Ingresses in `ingress`: `servers` gives the
    ports of each process that answers for a Service (several when the fault suite runs
    replicas); `static_204` adds the benchmark's ceiling, a location nginx answers without
    any upstream; `rate_limit` False leaves the edge's rate limit out (for the bench)."""
    main, splits = ingress_routes(ingress)
    # max_fails=0: a replica that refuses a connection is passed over for that request only
    # (nginx tries the next), where the default rules it out for 10 s, and during a rolling
    # restart both replicas at once ("no live upstreams"). The cluster's ingress-nginx
    # follows the Service's ready endpoints instead.
    # POST /notas with THREE_WAY_HEADER: the three routes, a third each (with queue-api only).
    three = three_way_split(splits) if "queue-api" in servers else None
    services = sorted(
        {e["service"] for e in main} | {s for parts in splits.values() for s, _ in parts} | {s for s, _ in three or []}
    )
    if unknown := [svc for svc in services if svc not in SERVICE_PROCESS]:
        sys.exit(f"devstack: no local process answers for the Service {unknown[0]} (devstack.SERVICE_PROCESS)")
    upstreams = "\n".join(
        f"    upstream {svc} {{\n"
        + "".join(f"        server 127.0.0.1:{port} max_fails=0;\n" for port in servers[SERVICE_PROCESS[svc]])
        + "        keepalive 64;\n    }\n"
        for svc in services
    )
    split_blocks, locations = [], []

    def location(match: str, entry: dict, upstream: str) -> str:
        zones, directives = edge_limits(entry["annotations"], f"edge_{len(locations)}", rate_limit)
        if zones:
            split_blocks.append(zones)
        body = "".join(f"            {d}\n" for d in [*directives, f"proxy_pass http://{upstream};"])
        return f"        location {match}{entry['path']} {{\n{body}        }}"

    def split(var: str, parts: list[tuple[str, int]]) -> None:
        shares = "".join(f"        {weight}% {svc};\n" for svc, weight in parts[:-1])
        split_blocks.append(
            f'    split_clients "${{request_id}}" {var} {{\n{shares}        * {parts[-1][0]};\n    }}\n'
        )

    for i, (path, parts) in enumerate(splits.items()):
        var = f"$split_{i}"
        split(var, parts)
        if path == "/notas" and three:
            (name, value), var = THREE_WAY_HEADER, "$split_notas"
            split("$split_all", three)
            header = "$http_" + name.replace("-", "_")
            split_blocks.append(
                f"    map {header} {var} {{\n        default $split_{i};\n        {value} $split_all;\n    }}\n"
            )
        # The split takes the main Ingress's settings, as ingress-nginx gives a canary's path.
        entry = next(e for e in main if e["path"] == path)
        locations.append(location("= ", entry, var))
    for entry in main:
        if entry["path"] in splits:
            continue
        locations.append(location("= " if entry["type"] == "Exact" else "", entry, entry["service"]))
    if errors := edge_error_locations(main):
        locations.append(errors)
    text = TEMPLATE.read_text()
    for key, value in {
        "USER": "user root;" if os.geteuid() == 0 else "",
        "STATE": str(state),
        "PORT": str(servers["nginx"][0]),
        "UPSTREAMS": upstreams,
        "SPLITS": "\n".join(split_blocks),
        "LOCATIONS": "\n\n".join(locations),
        "EXTRA": "        location = /__static_204 {\n            return 204;\n        }" if static_204 else "",
    }.items():
        text = text.replace(f"@@{key}@@", value)
    return text


def find(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin")
    if not path:
        sys.exit(f"devstack: {binary} is missing (scripts/bootstrap.sh installs it)")
    return path


def init_mariadb(state: Path = STATE) -> None:
    data = state / "mariadb" / "data"
    if (data / "mysql").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            find("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# Where the migration user's URL is kept: only the migration step reads it, not the services.
MIGRATE_ENV = "migrate.env"


def mysql_users(port: int, state: Path = STATE) -> tuple[str, str]:
    """For the stack's own MariaDB: the URLs of the migration user and of the services' user,
    with new random passwords. The migration user is made by state/mariadb/users.sql, which
    mariadbd runs at every start (`--init-file`); the services' user by the migration step."""
    migrate, app = secrets.token_hex(16), secrets.token_hex(16)
    users = state / "mariadb" / "users.sql"
    users.parent.mkdir(parents=True, exist_ok=True)
    users.touch()
    users.chmod(0o600)
    users.write_text(
        f"CREATE USER IF NOT EXISTS 'notas_migrate'@'%' IDENTIFIED BY '{migrate}';\n"
        f"ALTER USER 'notas_migrate'@'%' IDENTIFIED BY '{migrate}';\n"
        "GRANT ALL ON `notas`.* TO 'notas_migrate'@'%' WITH GRANT OPTION;\n"
        "GRANT CREATE USER ON *.* TO 'notas_migrate'@'%';\n"
    )
    server = f"127.0.0.1:{port}"
    return (
        f"mysql://notas_migrate:{migrate}@{server}/notas",
        f"mysql://notas_app:{app}@{server}/notas",
    )


def as_app_user(admin_url: str) -> str:
    """`admin_url` (an existing server's account) with the services' user and a new password."""
    u = urlparse(admin_url)
    return u._replace(netloc=f"notas_app:{secrets.token_hex(16)}@{u.hostname}:{u.port or 3306}").geturl()


def write_migrate_env(migrate_url: str, app_url: str, state: Path = STATE) -> None:
    """state/migrate.env, readable by this user only: the migration step's two URLs."""
    path = state / MIGRATE_ENV
    path.touch()
    path.chmod(0o600)
    path.write_text(f"MYSQL_URL={migrate_url}\nAPP_MYSQL_URL={app_url}\n")


def migration_command(state: Path = STATE, profile: str = PROFILE) -> str:
    """The migration step (`grpc-server --migrate-only`) as the migration user, in a subshell
    so that the server started after it does not inherit that user's URL."""
    return f"(set -a && . {state}/{MIGRATE_ENV} && exec {ROOT}/target/{profile}/grpc-server --migrate-only)"


def redacted(url: str) -> str:
    """`url` without its password, for printing."""
    u = urlparse(url)
    if not u.password:
        return url
    return u._replace(netloc=f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")).geturl()


# The command line of each process (`exec` so that the process honcho, or the fault suite,
# signals is the server itself).


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
        sys.exit(f"devstack: {path} is missing (scripts/bootstrap.sh builds tansu once per machine)")
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


def render_prometheus(targets: dict[str, str]) -> str:
    """prometheus.yml: one job per process that serves /metrics (`targets`: job → host:port),
    the job named like the process, as the cluster's scrape jobs name the Deployment.
    Scraped every 2 s so that the dashboard's charts move within seconds of a load."""
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }
    return "# Generated by scripts/devstack.py for `just dev`.\n" + yaml.safe_dump(config, sort_keys=False)


def service_command(service: str, profile: str = PROFILE, **env: str) -> str:
    """A service's binary from target/`profile`, with `env` (LISTEN_ADDR, ...) set."""
    settings = "".join(f"{name}={value} " for name, value in env.items())
    return f"{settings}exec {ROOT}/target/{profile}/{service}"


def prepare() -> None:
    if pid := running_pid():
        sys.exit(f"devstack: a stack is already running (honcho pid {pid}); `just dev-down` stops it")
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
                name: f"127.0.0.1:{ports['grpc-server-admin' if name == 'grpc-server' else name]}"
                for name in (
                    "grpc-server",
                    "grpc-client",
                    "redis-api",
                    "dashboard-api",
                    "monitor",
                    "queue-api",
                    "grade-consumer",
                    "grade-consumer-2",
                )
            }
        )
    )
    procs["ready"] = f"cd {ROOT} && exec {sys.executable} -m scripts.devstack wait"
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
        sys.exit(f"devstack: not ready after 3 minutes: {', '.join(pending)} (logs in .dev/logs and above)")
    ports, env = read_ports(), read_env()
    url = env["NOTAS_URL"]
    print(
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
        f"  stop             Ctrl-C here, or just dev-down\n",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


# honcho's own lines: a signal it received, and a process that ended.
HONCHO_SIGNAL = re.compile(r"\| (SIGINT|SIGTERM) received")
HONCHO_STOPPED = re.compile(r"\| ([\w-]+)\.\d+ stopped \(rc=(-?\d+)\)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run() -> None:
    """Runs the stack in the foreground under honcho, which stops every process when one
    ends. When that happens by itself (not Ctrl-C or `just dev-down`), says last which
    process ended the stack and how, so it is not lost in the shutdown lines."""
    honcho = run_honcho(stdout=subprocess.PIPE, text=True, bufsize=1)
    # Ctrl-C, and the SIGTERM honcho passes on when `just dev-down` stops it, reach this
    # process too (same process group): honcho stops the processes, this one reports.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asked, first_stop = False, None
    for line in honcho.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        plain = ANSI.sub("", line)
        asked = asked or bool(HONCHO_SIGNAL.search(plain))
        stopped = HONCHO_STOPPED.search(plain)
        if stopped and first_stop is None and not asked:
            first_stop = (stopped.group(1), int(stopped.group(2)))
    code = honcho.wait()
    if first_stop:
        name, rc = first_stop
        how = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
        log = STATE / "logs" / f"{name}.log"
        where = log if log.exists() else f"its lines above ({name}.1 |)"
        print(
            f"devstack: the stack stopped because {name} exited ({how}); see {where}",
            file=sys.stderr,
        )
        sys.exit(code or 1)
    # Stopped on purpose: honcho reports its processes' SIGTERM deaths (143); all is well.
    sys.exit(0 if asked else code)


def down() -> None:
    pid = running_pid()
    if not pid:
        print("devstack: no stack is running")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not running_pid():
            print("devstack: stopped")
            return
        time.sleep(0.2)
    sys.exit(f"devstack: honcho (pid {pid}) did not stop within 20 s")


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
        sys.exit(f"devstack: a password of the stack is in {', '.join(leaks)}")
    print(f"devstack: no password in {len(logs)} logs")


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
        sys.exit(f"usage: devstack.py {{{'|'.join(commands)}}}")
    commands[sys.argv[1]]()
