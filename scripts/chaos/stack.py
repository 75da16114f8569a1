"""The fault suite's stack: MariaDB, Redis, the broker, nginx and two replicas of each
route's services, each a process of scripts/common/supervisor.py that a fault can signal,
kill and start again. State and logs go under the run's folder. Each process has its own
log file: a fault reads a grade-consumer's to choose its moment."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from scripts.chaos.settings import (
    CONSUMERS,
    KAFKA_SESSION_TIMEOUT_MS,
    KAFKA_TIMEOUT_MS,
    REDIS_TIMEOUT_MS,
    REPLICAS,
    REQUEST_TIMEOUT_MS,
    STORE_TIMEOUT_MS,
)
from scripts.common.stores import mysql_connect
from scripts.common.supervisor import Supervisor
from scripts.stack import ROOT, commands, free_port, mariadb, render
from scripts.stack.control import wait_until_assigned

STORES = ("mariadb", "redis", "kafka")


class Stack:
    """The processes under `supervisor`, and how to tell each is ready (`ready`: "mysql",
    "redis", "kafka", or the URL that answers 200 once it is)."""

    def __init__(self, state: Path):
        self.state, self.logs = state, state / "logs"
        for sub in ("logs", "nginx/tmp", "redis"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        ports = {name: free_port() for name in ("nginx", "mariadb", "redis", "dashboard-api", "kafka")}
        replicas = {
            name: [free_port() for _ in range(REPLICAS)]
            for name in ("grpc-server", "grpc-server-admin", "grpc-client", "redis-api", "queue-api", "grade-consumer")
        }
        self.brokers = f"127.0.0.1:{ports['kafka']}"
        # What a fault noted, and the violations it found itself (cleared before each fault);
        # the load, for the faults that wait on what it sent.
        self.notes: list[str] = []
        self.fault_violations: list[str] = []
        self.load = None
        self.url = f"http://127.0.0.1:{ports['nginx']}"
        # The checks read as the migration user, who owns the schema; the services connect as
        # theirs, made by the migration step that runs before each grpc-server.
        self.mysql_url, app_url = mariadb.mysql_users(ports["mariadb"], state)
        mariadb.write_migrate_env(self.mysql_url, app_url, state)
        self.redis_url = f"redis://127.0.0.1:{ports['redis']}"
        servers = {**{name: [port] for name, port in ports.items()}, **replicas}
        (state / "nginx" / "nginx.conf").write_text(render.render_nginx(servers, state))
        self.env = {
            **os.environ,
            "MYSQL_URL": app_url,
            "REDIS_URL": self.redis_url,
            "RUST_LOG": "warn,redis_api::rebuild=info",
            "TOKIO_WORKER_THREADS": "1",
            "STORE_TIMEOUT_MS": str(STORE_TIMEOUT_MS),
            "REDIS_TIMEOUT_MS": str(REDIS_TIMEOUT_MS),
            "REQUEST_TIMEOUT_MS": str(REQUEST_TIMEOUT_MS),
            "KAFKA_BROKERS": self.brokers,
            "KAFKA_TIMEOUT_MS": str(KAFKA_TIMEOUT_MS),
            "KAFKA_SESSION_TIMEOUT_MS": str(KAFKA_SESSION_TIMEOUT_MS),
        }

        def service(name: str, port: int, **env: str) -> str:
            return commands.service_command(name, LISTEN_ADDR=f"127.0.0.1:{port}", **env)

        def readyz(port: int) -> str:
            return f"http://127.0.0.1:{port}/readyz"

        grpc_servers = ",".join(f"http://127.0.0.1:{port}" for port in replicas["grpc-server"])
        procs = {
            "mariadb": (commands.mariadb_command(ports["mariadb"], state), "mysql"),
            "redis": (commands.redis_command(ports["redis"], state), "redis"),
            "kafka": (commands.kafka_command(ports["kafka"], state), "kafka"),
            "nginx": (commands.nginx_command(state), f"{self.url}/healthz"),
        }
        for i in range(REPLICAS):
            server, admin = replicas["grpc-server"][i], replicas["grpc-server-admin"][i]
            client, route2 = replicas["grpc-client"][i], replicas["redis-api"][i]
            migrate_then_serve = (
                mariadb.migration_command(state)
                + " && "
                + service("grpc-server", server, ADMIN_ADDR=f"127.0.0.1:{admin}")
            )
            procs[f"grpc-server-{i + 1}"] = (migrate_then_serve, readyz(admin))
            procs[f"grpc-client-{i + 1}"] = (
                service("grpc-client", client, GRPC_SERVER_URL=grpc_servers),
                readyz(client),
            )
            procs[f"redis-api-{i + 1}"] = (service("redis-api", route2), readyz(route2))
        for i in range(REPLICAS):
            route3, consumer = replicas["queue-api"][i], replicas["grade-consumer"][i]
            procs[f"queue-api-{i + 1}"] = (service("queue-api", route3), readyz(route3))
            procs[CONSUMERS[i]] = (service("grade-consumer", consumer), readyz(consumer))
        dashboard = ports["dashboard-api"]
        procs["dashboard-api"] = (service("dashboard-api", dashboard), readyz(dashboard))
        self.ready = {name: check for name, (_, check) in procs.items()}
        self.supervisor = Supervisor(
            {name: command for name, (command, _) in procs.items()}, env=self.env, cwd=ROOT, logs=self.logs
        )

    def up(self) -> None:
        """The stores first, then the topics (the cluster declares them as KafkaTopics), then
        the rest: queue-api is ready only once its topic exists, and the consumers once they
        hold every partition."""
        mariadb.init_mariadb(self.state)
        self.supervisor.start_all(list(STORES))
        for name in STORES:
            self.wait_ready(name, 180)
        with open(self.logs / "create-topics.log", "a") as log:
            consumer = f"{ROOT}/target/{commands.PROFILE}/grade-consumer"
            subprocess.run([consumer, "--create-topics"], env=self.env, stdout=log, stderr=log, check=True, timeout=60)
        self.supervisor.start_all([name for name in self.ready if name not in STORES])
        for name in self.ready:
            self.wait_ready(name, 180)
        # Ready as `just dev` means it: route 3's consumers hold every partition between them,
        # or the first fault's load would queue behind a group still forming.
        members = {name: self.ready[name].replace("/readyz", "/metrics") for name in CONSUMERS}
        start = time.time()
        if why := wait_until_assigned(self.brokers, members):
            sys.exit(f"chaos: {why}; see {self.logs}")
        print(f"chaos: the consumers hold every partition {time.time() - start:.1f} s after they answered", flush=True)

    def down(self) -> None:
        self.supervisor.stop()

    def answers(self, name: str) -> bool:
        check = self.ready[name]
        try:
            if check == "mysql":
                server = self.mysql_url.rsplit("/", 1)[0]  # any user may open information_schema
                mysql_connect(f"{server}/information_schema", connect_timeout=1).close()
            elif check == "redis":
                redis.Redis.from_url(self.redis_url, socket_timeout=1).ping()
            elif check == "kafka":
                host, port = self.brokers.split(":")
                socket.create_connection((host, int(port)), timeout=1).close()
            else:
                with urllib.request.urlopen(check, timeout=2) as answer:
                    return answer.status == 200
            return True
        except Exception:
            return False

    def wait_ready(self, name: str, seconds: float = 60) -> float:
        """Waits until `name` answers; returns when it did (time.time())."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.answers(name):
                return time.time()
            if not self.supervisor.running(name):
                code = self.supervisor.procs[name].popen.returncode
                sys.exit(f"chaos: {name} exited ({code}); see {self.logs}/{name}.log")
            time.sleep(0.1)
        sys.exit(f"chaos: {name} did not answer within {seconds:.0f} s; see {self.logs}/{name}.log")

    def died(self) -> list[str]:
        """Processes that exited without being asked to."""
        return [f"{name} exited by itself (code {code})" for name, code in self.supervisor.exited()]
