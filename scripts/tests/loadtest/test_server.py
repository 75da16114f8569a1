"""The server side of a run: each route's latency at the services and its CPU per record."""

from collections import Counter

from scripts.loadtest import server
from scripts.loadtest.routes import AIMS
from scripts.loadtest.server import builds, cpu_parts, server_lines

ALL = AIMS["all"]


def test_the_cpu_per_record_divides_each_routes_processes_by_its_rows():
    before = {"cpu": {"grpc-client": 1.0, "grpc-server": 1.0, "redis-api": 1.0, "redis": 0.0, "mysql": 0.0}}
    after = {
        "cpu": {"grpc-client": 2.0, "grpc-server": 1.5, "redis-api": 1.5, "redis": 0.5, "mysql": 4.0},
        "cpu_source": "a test",
        "latency_problem": "no Prometheus URL given",
    }
    lines = server_lines(before, after, Counter({"grpc": 1000, "redis": 2000}))
    assert "Not measured: no Prometheus URL given." in lines
    assert "| route 1 (grpc) | 1000 | grpc-client 1,000, grpc-server 500 | 1,500 |" in lines
    assert "| route 2 (redis) | 2000 | redis-api 250 | 250 |" in lines
    assert "| shared stores | 3000 | mysql 1,333, redis 167 | 1,500 |" in lines
    assert any(line.startswith("**Cheaper per record: route 2 (redis)**") for line in lines)
    assert lines[-1] == "Not counted (not among the measured processes): nginx."


def test_each_runs_cpu_parts_are_the_route_panels():
    assert cpu_parts(AIMS["split"]) == [
        ("route 1 (grpc)", ("grpc-client", "grpc-server"), ("grpc",)),
        ("route 2 (redis)", ("redis-api",), ("redis",)),
        ("shared stores", ("mysql", "redis", "nginx"), ("grpc", "redis")),
    ]
    assert cpu_parts(AIMS["queue"]) == [
        ("route 3 (queue)", ("queue-api", "grade-consumer"), ("queue",)),
        ("shared stores", ("mysql", "redis", "nisshi", "kafka", "nginx"), ("queue",)),
    ]
    assert cpu_parts(ALL)[2] == ("route 3 (queue)", ("queue-api", "grade-consumer"), ("queue",))


def test_route_3_server_side_counts_its_consumers_and_its_broker_among_the_stores():
    names = ("grpc-client", "grpc-server", "redis-api", "queue-api", "grade-consumer", "nisshi", "redis", "mysql")
    before = {
        "cpu": dict.fromkeys(names, 0.0),
        "latency": {},
        "queue": {"batches": 0.0, "batch_records": 0.0, "to_stored_seconds": 0.0, "to_stored_count": 0.0},
    }
    after = {
        "cpu": {**dict.fromkeys(names, 1.0), "redis": 0.4},
        "cpu_source": "a test",
        "latency": {route: {"0.005": 0.0, "0.01": n, "+Inf": n} for route, n in (("grpc", 100.0), ("redis", 100.0))}
        | {"queue": {"0.005": 200.0, "0.01": 200.0, "+Inf": 200.0}},
        "queue": {"batches": 20.0, "batch_records": 200.0, "to_stored_seconds": 30.0, "to_stored_count": 200.0},
    }
    lines = server_lines(before, after, Counter({"grpc": 100, "redis": 100, "queue": 200}), ALL)
    assert "| shared stores | 400 | mysql 2,500, redis 1,000, nisshi 2,500 | 6,000 |" in lines
    assert "| route 3 (queue) | 200 | 2.5 | 4.8 | 4.9 |" in lines
    assert (
        "**Fastest at p95 at the services: route 3 (queue).** (Route 3 answers once the grade is queued, not stored.)"
        in lines
    )
    assert "| route 3 (queue) | 200 | queue-api 5,000, grade-consumer 5,000 | 10,000 |" in lines
    assert (
        "**Cheapest per record: no route alone** (its own processes' CPU: route 1 20,000 µs, route 2 10,000 µs, route 3 10,000 µs)."
        in lines
    )
    # The broker is nisshi here: Kafka is not missing.
    assert lines[lines.index("### Route 3's consumers (Prometheus)") - 2] == (
        "Not counted (not among the measured processes): nginx."
    )
    assert lines[-1] == (
        "20 batches of 200 records (mean 10.0 a batch); 0 dead letters. Their own time from queue-api's acceptance "
        "(stamped before the append, so it includes the wait for the broker's acknowledgement) to the row, "
        "`notas_queue_time_to_stored_seconds`, over 200 grades: mean 150 ms (its quantiles are not measured: these "
        "consumers render it as a summary)."
    )
    # With its buckets, its quantiles too.
    after["queue_buckets"] = {"0.25": 100.0, "0.5": 180.0, "1": 200.0, "+Inf": 200.0}
    lines = server_lines(before, after, Counter({"grpc": 100, "redis": 100, "queue": 200}), ALL)
    assert lines[-1].endswith(
        "mean 150 ms, p50/p95/p99 250/750/950 ms (interpolated within its buckets of 0.25, "
        "0.5, 1, 2.5, 5 s, ...: coarse)."
    )


def test_without_cadvisor_the_cpu_is_the_processes_own_and_the_host_monitors(monkeypatch):
    answers = {
        "job": [
            {"metric": {"job": "grpc-client"}, "value": [0, "1.5"]},
            {"metric": {"job": "queue-api"}, "value": [0, "2"]},
        ],
        "process": [
            {"metric": {"process": "mariadbd"}, "value": [0, "3"]},
            {"metric": {"process": "nisshi"}, "value": [0, "4"]},
        ],
    }

    def query(_url, expr):
        return next((series for label, series in answers.items() if expr.startswith(f"sum by ({label}) ")), [])

    monkeypatch.setattr(server, "prometheus_query", query)
    found = server.prometheus_cpu("http://prometheus", 0.0)
    assert found["cpu"] == {"grpc-client": 1.5, "queue-api": 2.0, "mysql": 3.0, "nisshi": 4.0}
    assert "process_cpu_seconds_total" in found["cpu_source"]
    monkeypatch.setattr(server, "prometheus_query", lambda _url, _expr: [])
    assert "neither cAdvisor's series" in server.prometheus_cpu("http://prometheus", 0.0)["cpu_problem"]


def test_cadvisors_containers_come_first(monkeypatch):
    containers = [{"metric": {"container": "kafka"}, "value": [0, "7"]}]
    monkeypatch.setattr(
        server, "prometheus_query", lambda _url, expr: containers if expr == server.CONTAINER_CPU else []
    )
    assert server.prometheus_cpu("http://prometheus", 0.0)["cpu"] == {"kafka": 7.0}


def test_the_cpu_source_names_the_profile_the_services_were_built_in():
    assert builds(["/repo/target/quick-release/grpc-client", "/repo/target/quick-release/queue-api"]) == (
        " (quick-release builds; `just bench` measures release builds)"
    )
    assert builds(["/repo/target/debug/grpc-client", ""]) == " (debug builds; `just bench` measures release builds)"
    assert builds(["/repo/target/release/grpc-client"]) == " (release builds)"
    assert builds([""]) == ""
