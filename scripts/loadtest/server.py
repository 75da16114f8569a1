"""The server side of a run: the services' own latency histograms, route 3's consumers and
the CPU each route's processes spent per stored record.

`server_counters` reads what the servers have counted so far; the report takes it before and
after the run and shows the difference. The CPU comes from the local stack's processes
(psutil), or from the target's Prometheus: cAdvisor's container counters in a cluster, else
the services' own `process_cpu_seconds_total` and the host monitor's count of the stores.
"""

import time
from collections import Counter
from pathlib import Path

from scripts.common.metrics import histogram_quantile as quantile
from scripts.common.processes import ROUTE_PROCESSES, cpu_seconds, executable, stack_processes
from scripts.common.prometheus import fresh, wait_for_scrape
from scripts.common.prometheus import query as prometheus_query
from scripts.loadtest.routes import AIMS, LABELS, Sources, best
from scripts.stack import running_pid

# The stores the routes share, by their cluster container names, as the dashboard's route
# panel groups them. The broker is nisshi in the local stack and Kafka (Strimzi's container
# `kafka`) in a cluster. The split's nginx runs only in the local stack (ingress-nginx is
# outside so1p2, so cAdvisor's series here skip it).
BROKERS = ("nisshi", "kafka")
STORES = ("mysql", "redis", *BROKERS, "nginx")
# The same processes in the local stack, by program name (both grade-consumers count as one).
LOCAL_NAMES = {
    "grpc-client": "grpc-client",
    "grpc-server": "grpc-server",
    "redis-api": "redis-api",
    "queue-api": "queue-api",
    "grade-consumer": "grade-consumer",
    "nisshi": "nisshi",
    "redis-server": "redis",
    "mariadbd": "mysql",
    "nginx": "nginx",
}
# Route 3 answers at /queue/notas (route 3 alone) and at /notas (the three-way split).
LATENCY_BUCKETS = 'http_request_duration_seconds_bucket{path=~"/notas|/queue/notas", method="POST"}'
# In a cluster the kubelets' cAdvisor counts each container, the stores' too.
CONTAINER_CPU = (
    'sum by (container) (container_cpu_usage_seconds_total{namespace="so1p2", container!="", container!="POD"})'
)
# Where no cAdvisor is scraped, each service's own count, by job (its program's name), and the
# host monitor's count of the stores' processes, by program name.
PROCESS_CPU = {"job": "process_cpu_seconds_total", "process": "notas_host_process_cpu_seconds_total"}
# Route 3's consumers, summed over the group: records per batch, the time from queue-api's
# acceptance (stamped before the append) to the row, and the dead letters. Their sums and
# counts add up across consumers (consumers built before route 3's histograms had buckets
# rendered summaries, whose quantiles do not: QUEUE_BUCKETS is then empty).
QUEUE_COUNTERS = {
    "batch_records": "notas_queue_batch_size_sum",
    "batches": "notas_queue_batch_size_count",
    "to_stored_seconds": "notas_queue_time_to_stored_seconds_sum",
    "to_stored_count": "notas_queue_time_to_stored_seconds_count",
    "dead_letters": "notas_queue_dead_letters_total",
}
QUEUE_BUCKETS = "notas_queue_time_to_stored_seconds_bucket"


def builds(programs: list[str]) -> str:
    """Which cargo profile the services' `programs` (target/PROFILE/SERVICE) were built in, as
    the CPU source's note: " (debug builds; `just bench` measures release builds)"."""
    profiles = sorted({Path(program).parent.name for program in programs if program})
    if not profiles:
        return ""
    named = f"{' and '.join(profiles)} builds"
    return f" ({named})" if profiles == ["release"] else f" ({named}; `just bench` measures release builds)"


def server_counters(sources: Sources) -> dict:
    """What the server side has counted so far: the latency histogram's cumulative counts per
    route and bucket, and each process's CPU seconds; each part that could not be read says why."""
    now = time.time()
    found: dict = {"time": now}
    if sources.cpu == "local":
        supervisor = running_pid()
        if supervisor:
            procs = stack_processes(supervisor, tuple(LOCAL_NAMES))
            found["cpu"] = {LOCAL_NAMES[name]: s for name, s in cpu_seconds(procs).items() if procs[name]}
            programs = [executable(pid) for pid in procs["grpc-client"] + procs["queue-api"]]
            found["cpu_source"] = "psutil on the processes `just dev` started" + builds(programs)
        else:
            found["cpu_problem"] = "no local stack is running"
    if not sources.prometheus:
        found["latency_problem"] = "no Prometheus URL given (LT_PROMETHEUS)"
        if sources.cpu == "cadvisor":
            found["cpu_problem"] = found["latency_problem"]
        return found
    try:
        if not wait_for_scrape(sources.prometheus, now):
            found["stale"] = "Prometheus had not scraped every target within 30 s"
        found["latency"] = {}
        for series in prometheus_query(sources.prometheus, f"sum by (route, le) {fresh(LATENCY_BUCKETS, now)}"):
            route, le = series["metric"].get("route", "none"), series["metric"]["le"]
            found["latency"].setdefault(route, {})[le] = float(series["value"][1])
        # A series no consumer has yet (no dead letter ever) is none at all: 0.
        found["queue"] = {
            name: sum(float(v["value"][1]) for v in prometheus_query(sources.prometheus, f"sum{fresh(series, now)}"))
            for name, series in QUEUE_COUNTERS.items()
        }
        found["queue_buckets"] = {
            b["metric"]["le"]: float(b["value"][1])
            for b in prometheus_query(sources.prometheus, f"sum by (le) {fresh(QUEUE_BUCKETS, now)}")
        }
        if sources.cpu == "cadvisor":
            found.update(prometheus_cpu(sources.prometheus, now))
    except OSError as e:
        found.pop("latency", None)
        found.pop("queue", None)
        found.pop("queue_buckets", None)
        found["latency_problem"] = f"Prometheus at {sources.prometheus} did not answer: {e}"
        if sources.cpu == "cadvisor":
            found["cpu_problem"] = found["latency_problem"]
    return found


def prometheus_cpu(prometheus: str, now: float) -> dict:
    """Each process's CPU seconds from Prometheus: cAdvisor's containers of so1p2, else the
    services' own `process_cpu_seconds_total` and the host monitor's count of the stores."""
    containers = prometheus_query(prometheus, CONTAINER_CPU)
    if containers:
        return {
            "cpu": {c["metric"]["container"]: float(c["value"][1]) for c in containers},
            "cpu_source": "cAdvisor's `container_cpu_usage_seconds_total` in Prometheus",
        }
    cpu = {
        LOCAL_NAMES.get(series["metric"][label], series["metric"][label]): float(series["value"][1])
        for label, metric in PROCESS_CPU.items()
        for series in prometheus_query(prometheus, f"sum by ({label}) {fresh(metric, now)}")
    }
    if not cpu:
        return {"cpu_problem": f"Prometheus at {prometheus} has neither cAdvisor's series for so1p2 nor the processes'"}
    return {
        "cpu": cpu,
        "cpu_source": "each service's `process_cpu_seconds_total` and the host monitor's "
        "`notas_host_process_cpu_seconds_total` in Prometheus",
    }


def cpu_parts(routes: tuple[str, ...]) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The CPU table's rows for a run's routes: each part's label, its processes, and the
    routes whose rows it is divided by. The broker serves route 3 alone, so it is a store of
    the run only when the run has route 3."""
    stores = tuple(s for s in STORES if "queue" in routes or s not in BROKERS)
    return [*((LABELS[r], ROUTE_PROCESSES[r], (r,)) for r in routes), ("shared stores", stores, routes)]


def server_lines(before: dict, after: dict, rows: Counter, routes: tuple[str, ...] = AIMS["split"]) -> list[str]:
    """The server side's section: each route's latency from the services' histograms and the
    CPU per stored record of its processes, between the snapshots `before` and `after`, for
    the run's `routes`; and route 3's consumers."""
    lines, p95 = ["### Latency at the services (Prometheus)", ""], {}
    if "latency" in after and "latency" in before:
        lines += [
            "From each route's own `http_request_duration_seconds` histogram for `POST /notas` (every answer; "
            "route 1's includes its gRPC call"
            + (
                "; route 3's, at `/queue/notas` or `/notas`, ends at the broker's acknowledgement, before the grade "
                "is stored"
                if "queue" in routes
                else ""
            )
            + "), the counts gained during the run; quantiles interpolated "
            "within the buckets (1, 2.5, 5, 10, 25, 50, 100, 250 ms, ...) as `histogram_quantile` does.",
            "",
            "| route | POSTs answered | p50 (ms) | p95 (ms) | p99 (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for route in routes:
            start = before["latency"].get(route, {})
            gained = {le: n - start.get(le, 0.0) for le, n in after["latency"].get(route, {}).items()}
            q = [quantile(x, gained) for x in (0.50, 0.95, 0.99)]
            if q[0] is None:
                lines.append(f"| {LABELS[route]} | 0 | n/a | n/a | n/a |")
                continue
            p95[route] = q[1]
            lines.append(
                f"| {LABELS[route]} | {gained.get('+Inf', 0):.0f} | " + " | ".join(f"{1000 * v:.1f}" for v in q) + " |"
            )
        if len(p95) > 1 and len(p95) == len(routes):
            faster = best(p95)
            lines += [
                "",
                f"**{'Faster' if len(p95) == 2 else 'Fastest'} at p95 at the services: "
                f"{LABELS[faster] if faster else 'neither route' if len(p95) == 2 else 'no route alone'}.**"
                + (" (Route 3 answers once the grade is queued, not stored.)" if "queue" in p95 else ""),
            ]
        if "stale" in after:
            lines += ["", f"({after['stale']}: the last seconds may be missing.)"]
    else:
        lines.append(f"Not measured: {after.get('latency_problem') or before.get('latency_problem')}.")

    lines += ["", "### CPU per stored record", ""]
    if "cpu" not in after or "cpu" not in before:
        lines.append(
            f"Not measured: {after.get('cpu_problem') or before.get('cpu_problem') or 'no `--cpu` source given'}."
        )
    else:
        lines += cpu_lines(before["cpu"], after, rows, routes)
    if "queue" in routes:
        lines += ["", "### Route 3's consumers (Prometheus)", "", *consumer_lines(before, after)]
    return lines


def cpu_lines(before: dict[str, float], after: dict, rows: Counter, routes: tuple[str, ...]) -> list[str]:
    used = {name: after["cpu"][name] - before.get(name, 0.0) for name in after["cpu"]}
    lines = [
        f"CPU seconds each process used during the run (until the report summaries had caught up), from "
        f"{after['cpu_source']}, per row MySQL gained: each route's own processes per record of that route"
        + (" (route 3's grade-consumers together)" if "queue" in routes else "")
        + f"; the stores they share per record of {'either' if len(routes) == 2 else 'any'}, as the dashboard's "
        "route panel shows them.",
        "",
        "| | records | processes (µs per record) | total (µs per record) |",
        "|---|---:|---|---:|",
    ]
    own, counted = {}, set()
    for label, processes, divided_by in cpu_parts(routes):
        records = sum(rows[r] for r in divided_by)
        measured = [name for name in processes if name in used]
        counted.update(measured)
        if not records or not measured:
            lines.append(f"| {label} | {records} | not measured | n/a |")
            continue
        each = {name: used[name] * 1e6 / records for name in measured}
        if divided_by in ((r,) for r in routes):
            own[divided_by[0]] = sum(each.values())
        lines.append(
            f"| {label} | {records} | "
            + ", ".join(f"{name} {v:,.0f}" for name, v in each.items())
            + f" | {sum(each.values()):,.0f} |"
        )
    if len(own) > 1 and len(own) == len(routes):
        cheaper = best(own)
        lines += [
            "",
            f"**{'Cheaper' if len(own) == 2 else 'Cheapest'} per record: {LABELS[cheaper] if cheaper else 'no route alone'}"
            "** (its own processes' CPU: "
            + ", ".join(f"{LABELS[r].split(' (')[0]} {v:,.0f} µs" for r, v in own.items())
            + ").",
        ]
    lines += [
        "",
        "A record costs more at a load test's pace than at `just bench`'s highest rate: small batches, and a wake-up "
        "per request. BENCHMARKS.md has each route alone at 200 records/s, the pace `LT_ROUTES=all just loadtest "
        'brief` gives each: its "CPU µs per record at the load test\'s pace".',
    ]
    wanted = [name for _, processes, _ in cpu_parts(routes) for name in processes]
    # One broker is enough: nisshi locally, Kafka in a cluster.
    missing = [
        name
        for name in dict.fromkeys(wanted)
        if name not in used and not (name in BROKERS and any(b in used for b in BROKERS))
    ]
    if missing:
        lines += ["", f"Not counted (not among the measured processes): {', '.join(missing)}."]
    return lines


def consumer_lines(before: dict, after: dict) -> list[str]:
    """Route 3's consumer group during the run, from its counters: its batches, their mean size,
    the dead letters, and its own time from acceptance to stored (mean, and quantiles when its
    histogram has buckets)."""
    if "queue" not in after or "queue" not in before:
        return [f"Not measured: {after.get('latency_problem') or before.get('latency_problem') or 'no counters'}."]
    gained = {name: after["queue"].get(name, 0.0) - before["queue"].get(name, 0.0) for name in QUEUE_COUNTERS}
    batches, records, stored = gained["batches"], gained["batch_records"], gained["to_stored_count"]
    line = (
        f"{batches:.0f} batches of {records:.0f} records (mean {records / batches:.1f} a batch)"
        if batches
        else "No batch was consumed"
    )
    line += f"; {gained['dead_letters']:.0f} dead letters."
    if stored:
        start = before.get("queue_buckets", {})
        buckets = {le: n - start.get(le, 0.0) for le, n in after.get("queue_buckets", {}).items()}
        q = [quantile(x, buckets) for x in (0.50, 0.95, 0.99)]
        line += (
            f" Their own time from queue-api's acceptance (stamped before the append, so it includes the wait for "
            f"the broker's acknowledgement) to the row, `notas_queue_time_to_stored_seconds`, over {stored:.0f} "
            f"grades: mean {1000 * gained['to_stored_seconds'] / stored:.0f} ms"
            + (
                ", p50/p95/p99 " + "/".join(f"{1000 * v:.0f}" for v in q) + " ms (interpolated within its buckets "
                "of 0.25, 0.5, 1, 2.5, 5 s, ...: coarse)"
                if q[0] is not None
                else " (its quantiles are not measured: these consumers render it as a summary)"
            )
            + "."
        )
    return [line]
