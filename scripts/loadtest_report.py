"""Before and after a Locust run: what the stores and the servers hold, and the route
comparison report. Run from the repository root:

    python -m scripts.loadtest_report snapshot --mysql URL --redis URL [--prefix P] [--prometheus URL --cpu local|cadvisor] > before.json
    python -m scripts.loadtest_report write RUN_DIR --before before.json --mysql URL --redis URL [--prefix P] [...] [--strict]

`write` reads what locust/locustfile.py's processes wrote to RUN_DIR (every key and attempt, and
each process's CPU), the run's aim in RUN_DIR/run.json (`routes`: `split`, routes 1 and 2 at
/notas; `queue`, route 3 alone; `all`, the three) and Locust's history CSV, and writes
RUN_DIR/report.md and RUN_DIR/routes.png:
- client side (Locust): per route, requests, failures, throughput, p50/p95/p99 latency, from
  every attempt each process recorded, and a chart over time;
- the load generator: each Locust process's CPU, with a warning when one was saturated (then
  the client-side latencies measure Locust's queueing more than the routes);
- server side, between the snapshots: each route's latency p50/p95/p99 from the services'
  own histograms in Prometheus (`--prometheus`), and the CPU per stored record of each
  route's processes, from the processes of the local stack (`--cpu local`) or cAdvisor's
  container counters in the cluster's Prometheus (`--cpu cadvisor`); route 3's consumers
  (batches, dead letters) from their counters;
- the reconciliation of every key sent against the rows MySQL gained per route and what
  Redis counted: an acknowledged grade is its row (route 3's, once its consumers have drained
  the queue, within DRAIN_LIMIT seconds), a grade given up or cut at the stop (sent, never
  answered) is stored once at most, and no row comes from elsewhere; and route 3's time from
  each 202 to its grade's row.
It exits non-zero when a record was lost or duplicated (and, with --strict, when any
request failed). Without --mysql the reconciliation is reported as not done, and the run
does not pass.
"""

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from scripts.common.contract import KEY_PREFIX
from scripts.common.metrics import histogram_quantile as quantile
from scripts.common.metrics import nearest_rank
from scripts.common.processes import cpu_seconds, executable, stack_processes
from scripts.common.prometheus import fresh, wait_for_scrape
from scripts.common.prometheus import query as prometheus_query
from scripts.common.stores import live_counts as redis_counts
from scripts.common.stores import live_total as redis_total
from scripts.common.stores import mysql_connect, rows_after, wait_for_queued_rows
from scripts.stack import running_pid, wait_for_summaries

ROUTES = ("grpc", "redis", "queue")
# What `just loadtest` aims at (run.json's `routes`): the routes that answer there.
AIMS = {"split": ("grpc", "redis"), "queue": ("queue",), "all": ROUTES}
LABELS = {"grpc": "route 1 (grpc)", "redis": "route 2 (redis)", "queue": "route 3 (queue)"}
# The label of the row that adds up every route of an aim.
TOTAL = {"split": "both", "queue": "total", "all": "all three"}
# The processes each route runs alone, and those every route shares, by their cluster
# container names. Route 3's broker is tansu in the local stack and Kafka (Strimzi's
# container `kafka`) in a cluster. The live view's Redis is written by routes 2 and 3: it is
# the route's own when the run has one of them, a part of its own when it has both. The
# split's nginx runs only in the local stack (ingress-nginx is outside so1p2, so cAdvisor's
# series here skip it).
OWN = {"grpc": ("grpc-client", "grpc-server"), "redis": ("redis-api",), "queue": ("queue-api", "grade-consumer")}
BROKERS = ("tansu", "kafka")
LIVE_VIEW, SHARED = "redis", ("mysql", "nginx")
# The same processes in the local stack, by program name (both grade-consumers count as one).
LOCAL_NAMES = {
    "grpc-client": "grpc-client",
    "grpc-server": "grpc-server",
    "redis-api": "redis-api",
    "queue-api": "queue-api",
    "grade-consumer": "grade-consumer",
    "tansu": "tansu",
    "redis-server": "redis",
    "mariadbd": "mysql",
    "nginx": "nginx",
}
# Route 3 answers at /queue/notas (route 3 alone) and at /notas (the three-way split).
LATENCY_BUCKETS = 'http_request_duration_seconds_bucket{path=~"/notas|/queue/notas", method="POST"}'
# The services do not export process_cpu_seconds_total; the kubelets' cAdvisor counts each container.
CONTAINER_CPU = (
    'sum by (container) (container_cpu_usage_seconds_total{namespace="so1p2", container!="", container!="POD"})'
)
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
# Route 3's records appended and not yet stored: every member reports every partition, and
# the group's lag on one is the members' largest (crates/grade-consumer/src/lag.rs).
QUEUE_LAG = "sum(max by (group, topic, partition) {})"
# Past this share of a core a Locust process delays its own requests.
GENERATOR_LIMIT = 0.8
# How long after the run the report waits for route 3's consumers to store every grade
# answered 202, and then for no new route 3 row (the grades cut at the stop may be queued).
DRAIN_LIMIT = 60.0
QUIET = 2.0


def server_counters(args) -> dict:
    """What the server side has counted so far: the latency histogram's cumulative counts per
    route and bucket, and each process's CPU seconds; each part that could not be read says why."""
    now = time.time()
    found: dict = {"time": now}
    if args.cpu == "local":
        honcho = running_pid()
        if honcho:
            procs = stack_processes(honcho, tuple(LOCAL_NAMES))
            found["cpu"] = {LOCAL_NAMES[name]: s for name, s in cpu_seconds(procs).items() if procs[name]}
            debug = any("/target/debug/" in executable(pid) for pid in procs["grpc-client"] + procs["queue-api"])
            found["cpu_source"] = "psutil on the processes `just dev` started" + (
                " (debug builds; `just bench` measures release builds)" if debug else ""
            )
        else:
            found["cpu_problem"] = "no local stack is running"
    if not args.prometheus:
        found["latency_problem"] = "no Prometheus URL given (LT_PROMETHEUS)"
        if args.cpu == "cadvisor":
            found["cpu_problem"] = found["latency_problem"]
        return found
    try:
        if not wait_for_scrape(args.prometheus, now):
            found["stale"] = "Prometheus had not scraped every target within 30 s"
        found["latency"] = {}
        for series in prometheus_query(args.prometheus, f"sum by (route, le) {fresh(LATENCY_BUCKETS, now)}"):
            route, le = series["metric"].get("route", "none"), series["metric"]["le"]
            found["latency"].setdefault(route, {})[le] = float(series["value"][1])
        # A series no consumer has yet (no dead letter ever) is none at all: 0.
        found["queue"] = {
            name: sum(float(v["value"][1]) for v in prometheus_query(args.prometheus, f"sum{fresh(series, now)}"))
            for name, series in QUEUE_COUNTERS.items()
        }
        found["queue_buckets"] = {
            b["metric"]["le"]: float(b["value"][1])
            for b in prometheus_query(args.prometheus, f"sum by (le) {fresh(QUEUE_BUCKETS, now)}")
        }
        if args.cpu == "cadvisor":
            containers = prometheus_query(args.prometheus, CONTAINER_CPU)
            if containers:
                found["cpu"] = {c["metric"]["container"]: float(c["value"][1]) for c in containers}
                found["cpu_source"] = "cAdvisor's `container_cpu_usage_seconds_total` in Prometheus"
            else:
                found["cpu_problem"] = f"Prometheus at {args.prometheus} has no cAdvisor series for so1p2"
    except OSError as e:
        found.pop("latency", None)
        found.pop("queue", None)
        found.pop("queue_buckets", None)
        found["latency_problem"] = f"Prometheus at {args.prometheus} did not answer: {e}"
        if args.cpu == "cadvisor":
            found["cpu_problem"] = found["latency_problem"]
    return found


def queue_lag(prometheus: str, since: float) -> float | None:
    """Route 3's records appended and not yet stored, from its consumers' gauges sampled after
    `since`; None when none reports it (no route 3, no Prometheus, or the broker silent)."""
    if not prometheus:
        return None
    try:
        found = prometheus_query(prometheus, QUEUE_LAG.format(fresh("notas_queue_lag_records", since)))
    except OSError:
        return None
    lag = float(found[0]["value"][1]) if found else math.nan
    return None if math.isnan(lag) else lag


def snapshot(args, seconds: float = 60) -> dict:
    """What the stores hold before the run, once they are at rest: route 3's queue drained (its
    consumers' lag, when Prometheus has it) and the live view's total equal to the rows of
    routes 2 and 3 in MySQL (it is exact), or `seconds` have passed. Until then they are still
    catching up with grades accepted before the run (route 3's queue, the live view's rebuild
    after Redis restarted, route 2's outbox), which the run would otherwise be blamed for."""
    start = time.time()
    if args.prometheus:
        wait_for_scrape(args.prometheus, start)
    with mysql_connect(args.mysql, autocommit=True) as db, db.cursor() as cur:
        while True:
            lag = queue_lag(args.prometheus, start)
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM grades")
            (max_id,) = cur.fetchone()
            cur.execute("SELECT route, COUNT(*) FROM grades GROUP BY route")
            rows = {route: count for route, count in cur.fetchall()}
            total = redis_total(args.redis, args.prefix)
            live = rows.get("redis", 0) + rows.get("queue", 0)
            if (total == live and not lag) or time.time() > start + seconds:
                break
            time.sleep(0.5)
    found = {
        "max_id": int(max_id),
        "rows": rows,
        "redis_total": total,
        "redis_counts": redis_counts(args.redis, args.prefix),
        "server": server_counters(args),
    }
    if lag:
        found["live_note"] = (
            f"before the run route 3's queue still held {lag:.0f} grades after {seconds:.0f} s: stored during the "
            "run, they are rows with keys it never sent"
        )
    elif total != live:
        found["live_note"] = (
            f"before the run the live view counted {total} records against {live} rows of routes 2 and 3 in MySQL, "
            f"still after {seconds:.0f} s: its check below may count grades stored before the run"
        )
    return found


def draw_chart(run: Path) -> bool:
    """Throughput and p95 latency per route over the run, from the full-history CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[float, float, float]]] = {}
    history = run / "locust_stats_history.csv"
    if not history.exists():
        return False
    with open(history, newline="") as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            if "[" not in name:
                continue
            route = name[name.find("[") + 1 : name.find("]")]
            p95 = row.get("95%", "N/A")
            series.setdefault(route, []).append(
                (
                    float(row["Timestamp"]),
                    float(row["Requests/s"]),
                    float(p95) if p95 not in ("N/A", "") else float("nan"),
                )
            )
    if not series:
        return False
    start = min(points[0][0] for points in series.values())
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for route, points in sorted(series.items()):
        t = [p[0] - start for p in points]
        top.plot(t, [p[1] for p in points], label=route)
        bottom.plot(t, [p[2] for p in points], label=route)
    top.set_ylabel("requests/s")
    top.set_title("Throughput and p95 latency per route")
    bottom.set_ylabel("p95 latency (ms)")
    bottom.set_xlabel("seconds into the run")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(run / "routes.png", dpi=110)
    return True


@dataclass
class Client:
    """What Locust's processes recorded (`read_ids`)."""

    sent: set[str] = field(default_factory=set)  # every key sent
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # 201: key -> (route, id)
    queued: dict[str, tuple[str, float]] = field(default_factory=dict)  # 202: key -> (route, unix time read)
    given_up: set[str] = field(default_factory=set)  # never acknowledged after the last attempt
    tries: list[tuple[str, bool, float, float]] = field(default_factory=list)  # route, ok, ms, unix end

    @property
    def cut(self) -> set[str]:
        """Sent, never answered: Locust ended its user with the request in flight."""
        return self.sent - self.acked.keys() - self.queued.keys() - self.given_up


def read_ids(run: Path) -> Client:
    """From every Locust process's ids file: the keys sent, each key acknowledged as stored
    (201: its route and id) or as queued (202: its route and when Locust read the answer), the
    keys given up after their last attempt, and every attempt's route, success, latency (ms)
    and end (unix seconds)."""
    client = Client()
    for path in run.glob("ids-*.csv"):
        for line in path.read_text().splitlines():
            event, key, *rest = line.split(",")
            if event == "sent":
                client.sent.add(key)
            elif event == "try":
                client.tries.append((rest[0], rest[1] == "ok", float(rest[2]), float(rest[3])))
            elif event == "201":
                client.acked[key] = (rest[0], int(rest[1]))
            elif event == "202":
                client.queued[key] = (rest[0], float(rest[1]))
            elif event == "given-up":
                client.given_up.add(key)
    return client


def client_stats(tries: list[tuple[str, bool, float, float]]) -> dict[str, dict]:
    """Per route and for both: requests, failures, throughput over the run's span, and
    latency percentiles (ms) of every attempt."""
    if not tries:
        return {}
    span = max(t for *_, t in tries) - min(t for *_, t in tries) or 1.0
    stats = {}
    for route in sorted({r for r, *_ in tries}) + ["Aggregated"]:
        mine = [(ok, ms) for r, ok, ms, _ in tries if route in (r, "Aggregated")]
        times = sorted(ms for _, ms in mine)
        stats[route] = {
            "requests": len(mine),
            "failures": sum(not ok for ok, _ in mine),
            "rps": len(mine) / span,
            "p50": nearest_rank(times, 0.50),
            "p95": nearest_rank(times, 0.95),
            "p99": nearest_rank(times, 0.99),
        }
    return stats


@dataclass
class Stored:
    """What the stores gained during the run (`stored_since`)."""

    rows: list[tuple[int, str, str]]  # each new row's id, route and course term (`count_field`)
    keys: dict[str, int]  # the Idempotency-Keys committed with them: key -> grade id
    redis_gain: int  # how much the live view's total grew
    redis_counts: dict[str, int]  # how much each course term's live count grew (those that did)
    created: dict[int, float] = field(default_factory=dict)  # route 3 rows: id -> unix time of its INSERT
    # Seconds the report waited for route 3's queue (`wait_for_queued_rows`): until it had found every
    # 202's row, and in all (None: not asked to).
    found: float | None = None
    waited: float | None = None


def stored_since(args, before: dict, queued: set[str] = frozenset()) -> Stored:
    """The rows and keys MySQL gained after the snapshot `before`, and what Redis counted;
    first, when the run had grades answered 202 (`queued`), until route 3 has drained."""
    found, waited = (
        wait_for_queued_rows(args.mysql, before["max_id"], queued, DRAIN_LIMIT, QUIET) if queued else (None, None)
    )
    new, keys = rows_after(args.mysql, before["max_id"])
    rows = [(i, route, term) for i, route, term, _ in new]
    created = {i: at for i, route, _, at in new if route == "queue"}
    # The live view may trail MySQL by an outbox replay (route 2) or a consumer's batch
    # between its commit and its Redis update (route 3): give its total a few seconds to reach
    # the new rows of the routes that write it.
    live = sum(route in ("redis", "queue") for _, route, _ in rows)
    for _ in range(20):
        gain = redis_total(args.redis, args.prefix) - before["redis_total"]
        if gain == live:
            break
        time.sleep(0.5)
    earlier = before.get("redis_counts", {})
    counted = {f: n - earlier.get(f, 0) for f, n in redis_counts(args.redis, args.prefix).items()}
    return Stored(rows, keys, gain, {f: n for f, n in counted.items() if n}, created, found, waited)


def reconcile(
    client: Client, stored: Stored, routes: tuple[str, ...] = AIMS["split"]
) -> tuple[list[str], list[str], Counter]:
    """Table lines, the problems found comparing every key sent (`read_ids`) with what the
    stores gained (`stored_since`), and the rows MySQL gained per route; `routes` are the
    routes of the run's aim (`AIMS`), one column each."""
    sent, acked, queued, given_up, cut = client.sent, client.acked, client.queued, client.given_up, client.cut
    answered_routes = {record_id: route for route, record_id in acked.values()}
    per_route = Counter(answered_routes.values())
    problems = []
    if len(answered_routes) < len(acked):
        problems.append(f"{len(acked) - len(answered_routes)} ids were answered for more than one key")

    routes_of = {i: route for i, route, _ in stored.rows}
    stored_keys = stored.keys
    # Every grade sent is stored exactly once at most: a key has at most one row (its primary
    # key), an acknowledged key is the row that was answered (a 202's, once the queue has
    # drained), every row has the key of a grade this run sent, and only a grade
    # acknowledged, given up or cut at the stop has one.
    lost = [i for i in answered_routes if i not in routes_of]
    wrong_key = [k for k, (_, i) in acked.items() if i in routes_of and stored_keys.get(k) != i]
    unstored = sorted(k for k in queued if k not in stored_keys)
    queued_ids = {stored_keys[k]: route for k, (route, _) in queued.items() if k in stored_keys}
    keyless = set(routes_of) - set(stored_keys.values())
    never_sent = [k for k in stored_keys if k not in sent]
    given_up_stored = sum(k in stored_keys for k in given_up)
    cut_stored = sum(k in stored_keys for k in cut)
    answered = {**queued_ids, **answered_routes}
    unanswered = Counter(r for i, r in routes_of.items() if i not in answered)
    wrong_route = [i for i, r in answered.items() if i in routes_of and routes_of[i] != r]
    if lost:
        problems.append(f"{len(lost)} records answered 201 are not in MySQL, e.g. {lost[:5]}")
    if wrong_key:
        problems.append(f"{len(wrong_key)} keys were answered with an id that is not their stored grade")
    if unstored:
        waited = f"{stored.waited:.0f} s" if stored.waited is not None else "the report's wait"
        why = "lost, or route 3's consumers are that far behind"
        if len(unstored) == len(queued):
            # Seen with tansu 0.6.0 on a local stack's reused broker state (README, "The broker").
            why = "none at all: route 3's consumers took no partition; on the local stack `just dev-clean` recovers"
        problems.append(
            f"{len(unstored)} grades answered 202 were not stored within {waited} after the run ({why}), "
            f"e.g. {unstored[:3]}"
        )
    if keyless:
        problems.append(
            f"{len(keyless)} rows were stored without the key their grade was sent with "
            f"(a grade stored twice), e.g. {sorted(keyless)[:5]}"
        )
    if never_sent:
        problems.append(f"{len(never_sent)} rows carry a key this run never sent, e.g. {never_sent[:3]}")

    # The live view is exact: Redis's total grew by the new rows of the routes that write it
    # (2 and 3) in MySQL, and so did each count per course, semester and year.
    rows = Counter(routes_of.values())
    writers = [r for r in ("redis", "queue") if r in routes] or ["redis"]
    whose = {1: LABELS[writers[0]].split(" (")[0], 2: "routes 2 and 3"}[len(writers)]
    live_rows = rows["redis"] + rows["queue"]
    redis_gain = stored.redis_gain
    if redis_gain != live_rows:
        problems.append(f"Redis total grew by {redis_gain}, MySQL gained {live_rows} {whose} rows")
    mysql_counts = Counter(field for _, route, field in stored.rows if route in ("redis", "queue"))
    counted = stored.redis_counts
    if counted != mysql_counts:
        differ = sorted(f for f in counted.keys() | mysql_counts.keys() if counted.get(f) != mysql_counts.get(f))
        problems.append(
            f"Redis counts differ from {whose}'s MySQL rows for {len(differ)} course terms, e.g. {differ[:3]}"
        )

    def row(label: str, cells: dict[str, object]) -> str:
        return f"| {label} | " + " | ".join(str(cells.get(r, "n/a")) for r in routes) + " |"

    stored_now = [r for r in routes if r != "queue"]
    lines = ["| | " + " | ".join(LABELS[r] for r in routes) + " |", "|---|" + "---:|" * len(routes)]
    if stored_now:
        lines.append(row("201 answers (distinct ids)", {r: per_route[r] for r in stored_now}))
    if "queue" in routes:
        lines.append(row("202 answers (keys)", {"queue": len(queued)}))
    lines.append(row("rows MySQL gained", {r: rows[r] for r in routes}))
    missing = {r: sum(answered_routes[i] == r for i in lost) for r in stored_now}
    if "queue" in routes:
        missing["queue"] = f"{len(unstored)} of the 202s"
    lines.append(row("answered but not in MySQL", missing))
    lines.append(row("stored, never answered (cut at the stop, given up)", {r: unanswered[r] for r in routes}))
    if len(writers) == 1:
        lines.append(row("Redis total gained", {writers[0]: redis_gain}))
    if not queued:
        acknowledged = f"{len(acked)} acknowledged ({len(acked) - len(wrong_key)} stored once, under their key)"
    else:
        acknowledged = f"{len(acked) + len(queued)} acknowledged ("
        if stored_now:
            acknowledged += (
                f"{len(acked)} with a 201, {len(acked) - len(wrong_key)} of them stored once, under their key; "
            )
        acknowledged += (
            f"{len(queued)} with a 202, {len(queued) - len(unstored)} of them stored once, under their key, "
            "once the queue drained)"
        )
    lines += [
        "",
        f"{len(sent)} grades were sent, each with its `Idempotency-Key`: {acknowledged}; {len(given_up)} given up "
        f"after retries ({given_up_stored} of them stored, once); **{len(cut)} cut at the stop** (sent, never answered: "
        f"Locust ends its users with requests in flight), {cut_stored} of them stored, once.",
    ]
    if len(writers) == 2:
        lines += [
            "",
            f"The live view (Redis, written by routes 2 and 3): its total grew by {redis_gain}, for "
            f"{rows['redis']} route 2 rows and {rows['queue']} route 3 rows.",
        ]
    if wrong_route:
        lines.append(
            f"\n{len(wrong_route)} retries were answered by the other route than the one that had "
            f"stored their grade (its first answer was lost); each is counted under the route that stored it."
        )
    return lines, problems, rows


def queue_lines(client: Client, stored: Stored) -> list[str]:
    """Route 3's section of the reconciliation: how long its queue took to drain after the last
    202, and the time from each 202 to its grade's row."""
    if not client.queued:
        return ["No grade was answered 202."]
    # Each grade answered 202 and stored by route 3: when Locust read the 202, when its row came.
    pairs = [
        (at, stored.created[stored.keys[k]])
        for k, (_, at) in client.queued.items()
        if stored.keys.get(k) in stored.created
    ]
    waits = sorted(row - at for at, row in pairs)
    last_ack = max(at for _, at in client.queued.values())
    read = datetime.fromtimestamp(last_ack, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    last = (
        f"the last of their rows was written {max(0.0, max(row for _, row in pairs) - last_ack):.2f} s later"
        if pairs
        else "none of their grades was stored by route 3"
    )
    lines = [f"Draining: the run's last 202 was read at {read} UTC; {last}."]
    missing = sum(k not in stored.keys for k in client.queued)
    if stored.waited is not None and missing:
        lines[0] += f" The report waited {stored.waited:.1f} s for the rows of every 202: {missing} never came."
    elif stored.waited is not None:
        lines[0] += (
            f" The report, {DRAIN_LIMIT:.0f} s at most, found every 202's row after {stored.found:.1f} s, then saw no "
            f"new route 3 row for {QUIET:.0f} s ({stored.waited:.1f} s in all)."
        )
    lines.append("")
    if not waits:
        return lines
    early = sum(w < 0 for w in waits)
    lines += [
        "From 202 to stored row, per grade: its row's `created_at` (MySQL's clock when the consumer's batch INSERT "
        "ran; the commit follows it in the same transaction) less the time Locust read its 202 (Locust's clock). "
        "Exact per key, over this run's grades, from the moment the client knew its grade was queued; the "
        "consumers' own `notas_queue_time_to_stored_seconds` (under Server side) starts earlier, before the "
        "append, and its buckets are coarse. Both clocks are this machine's locally; in a cluster they differ by "
        "the hosts' clock offset.",
        "",
        "| | grades | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| route 3: 202 → stored row | {len(waits)} | "
        + " | ".join(f"{1000 * nearest_rank(waits, q):.0f}" for q in (0.50, 0.95, 0.99))
        + f" | {1000 * waits[-1]:.0f} |",
    ]
    if early:
        lines += [
            "",
            f"({early} were stored before Locust read their 202, a negative time: the consumer was faster than "
            "Locust's own loop.)",
        ]
    return lines


def generator_lines(run: Path) -> tuple[list[str], list[str]]:
    """The load generator's section, and the warnings it calls for: each Locust process's CPU
    from the test's start to its stop (locustfile.py), as a share of one core."""
    procs = [json.loads(p.read_text()) for p in sorted(run.glob("cpu-*.json"))]
    if not procs:
        return ["Not measured (no `cpu-*.json` from Locust's processes)."], []
    lines = ["| Locust process | CPU (s) | run (s) | share of a core |", "|---|---:|---:|---:|"]
    busy = []
    for p in sorted(procs, key=lambda p: (p["role"] == "worker", p["pid"])):
        share = p["cpu_seconds"] / max(p["seconds"], 1e-9)
        lines.append(f"| {p['role']} (pid {p['pid']}) | {p['cpu_seconds']:.1f} | {p['seconds']:.0f} | {share:.0%} |")
        if share > GENERATOR_LIMIT:
            busy.append(f"{p['role']} pid {p['pid']} at {share:.0%}")
    warnings = (
        [
            f"**WARNING: the load generator was saturated** ({', '.join(busy)} of a core, past {GENERATOR_LIMIT:.0%}): "
            "the client-side latencies include Locust's own queueing and the rate is what Locust could send. "
            "Compare the routes by the server-side latency and CPU per record; use fewer users or more "
            "`LT_PROCESSES`, or run Locust on another machine."
        ]
        if busy
        else []
    )
    return lines, warnings


def cpu_parts(routes: tuple[str, ...]) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The CPU table's rows for a run's routes: each part's label, its processes, and the
    routes whose rows it is divided by."""
    writers = tuple(r for r in ("redis", "queue") if r in routes)
    parts = []
    for route in routes:
        processes = OWN[route] + (BROKERS if route == "queue" else ()) + ((LIVE_VIEW,) if writers == (route,) else ())
        parts.append((LABELS[route], processes, (route,)))
    if len(writers) == 2:
        parts.append(("live view (routes 2, 3)", (LIVE_VIEW,), writers))
    return [*parts, ("shared", SHARED, routes)]


def best(figures: dict[str, float]) -> str | None:
    """The route with the lowest figure, or None when two share it."""
    low = min(figures.values())
    return None if list(figures.values()).count(low) > 1 else min(figures, key=figures.get)


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
        + (" (route 3's include its broker, and its grade-consumers together)" if "queue" in routes else "")
        + ("; the live view's Redis per record of routes 2 and 3" if {"redis", "queue"} <= set(routes) else "")
        + f"; the shared ones per record of {'either' if len(routes) == 2 else 'any'}.",
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
    wanted = [name for _, processes, _ in cpu_parts(routes) for name in processes]
    # One broker is enough: tansu locally, Kafka in a cluster.
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


def client_lines(stats: dict[str, dict], routes: tuple[str, ...], aim: str) -> list[str]:
    """The client side's table, the routes of the run first, and which was faster at p95."""
    lines = [
        "| route | requests | failures | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {**LABELS, "Aggregated": TOTAL[aim]}
    for route in [*routes, *sorted(set(stats) - {*routes, "Aggregated"}), "Aggregated"]:
        if route in stats:
            s = stats[route]
            lines.append(
                f"| {labels.get(route, route)} | {s['requests']} | {s['failures']} | {s['rps']:.1f} | {s['p50']:.0f} "
                f"| {s['p95']:.0f} | {s['p99']:.0f} |"
            )
    if len(routes) > 1 and all(r in stats for r in routes):
        faster = best({r: stats[r]["p95"] for r in routes})
        figures = ", ".join(f"{r} {stats[r]['p50']:.0f}/{stats[r]['p95']:.0f} ms" for r in routes)
        lines += [
            "",
            f"**{'Faster' if len(routes) == 2 else 'Fastest'} at p95 at the client: "
            f"{LABELS[faster] if faster else 'neither route' if len(routes) == 2 else 'no route alone'}** "
            f"({figures} at p50/p95)."
            + (" Route 3 answers once the grade is queued, not stored." if "queue" in routes else ""),
        ]
    return lines


def pass_line(routes: tuple[str, ...]) -> str:
    """What a run that passed has shown."""
    stored_now = [r for r in routes if r != "queue"]
    writers = [r for r in ("redis", "queue") if r in routes]
    whose = {1: f"{LABELS[writers[0]].split(' (')[0]} row", 2: "row of routes 2 and 3"}.get(len(writers), "route 2 row")
    promise = "every 201 is one row in MySQL, none twice" if stored_now else ""
    if "queue" in routes:
        promise += (
            "; " if promise else ""
        ) + f"every 202 is one row within {DRAIN_LIMIT:.0f} s of the run's end, none twice"
    return (
        f"**PASS**: {promise}; every row is a grade this run sent, under its key, stored once whether it was "
        f"acknowledged, given up or cut at the stop; and Redis counted every {whose} exactly once, in its total "
        "and per course."
    )


def write(args) -> int:
    run = Path(args.run)
    before = json.loads(Path(args.before).read_text()) if args.before else {"max_id": 0, "rows": {}, "redis_total": 0}
    client = read_ids(run)
    stats = client_stats(client.tries)
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    aim = meta.get("routes", "split")
    routes = AIMS[aim]
    charted = draw_chart(run)
    failures = sum(s["failures"] for r, s in stats.items() if r != "Aggregated")
    stored = None
    if args.mysql:
        stored = stored_since(args, before, set(client.queued) if "queue" in routes else set())
        recon_lines, problems, rows = reconcile(client, stored, routes)
        if "live_note" in before:
            recon_lines += ["", f"(Note: {before['live_note']}.)"]
        if "queue" in routes:
            recon_lines += ["", "### Route 3: from 202 to stored", "", *queue_lines(client, stored)]
    else:
        recon_lines, problems, rows = (
            ["Not reconciled: no MySQL URL given (`mysql=...`)."],
            ["the run was not reconciled"],
            Counter(),
        )
    if args.strict and failures:
        problems.append(f"{failures} requests failed")
    if args.mysql:
        wait_for_summaries(args.mysql)  # part of what a record costs
    server = server_lines(before.get("server", {}), server_counters(args), rows, routes)
    generator, warnings = generator_lines(run)
    for warning in warnings:
        print(warning.replace("**", ""), file=sys.stderr)

    out = [
        "# Route comparison",
        "",
        f"Run {run.name}, written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. "
        + ", ".join(f"{k} {v}" for k, v in meta.items()),
        *(f"\n> {w}" for w in warnings),
        "",
        "## Client side (Locust)",
        "",
        *client_lines(stats, routes, aim),
    ]
    if charted:
        out += ["", "![Throughput and p95 latency per route](routes.png)"]
    out += ["", "## Load generator", "", *generator, "", "## Server side", "", *server]
    out += ["", "## Reconciliation", "", *recon_lines, ""]
    out += [f"**FAIL**: {p}" for p in problems] or [pass_line(routes)]
    out += ["", "Locust's own report: [locust.html](locust.html); CSVs: `locust_*.csv`."]
    (run / "report.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["snapshot", "write"])
    parser.add_argument("run", nargs="?", help="the run's folder (write)")
    parser.add_argument("--before", help="snapshot taken before the run (write)")
    parser.add_argument("--mysql", default="", help="MySQL URL of the target's database")
    parser.add_argument("--redis", default="", help="Redis URL of the target's live view")
    parser.add_argument("--prefix", default=KEY_PREFIX, help="REDIS_KEY_PREFIX of the target")
    parser.add_argument("--prometheus", default="", help="Prometheus URL that scrapes the target's services")
    parser.add_argument(
        "--cpu",
        choices=["local", "cadvisor"],
        help="where the processes' CPU is read: the local "
        "stack's processes, or cAdvisor's container counters in --prometheus",
    )
    parser.add_argument("--strict", action="store_true", help="fail on any failed request too")
    args = parser.parse_args()
    if args.command == "snapshot":
        empty = {"max_id": 0, "rows": {}, "redis_total": 0, "server": server_counters(args)}
        print(json.dumps(snapshot(args) if args.mysql else empty))
        return 0
    return write(args)


if __name__ == "__main__":
    sys.exit(main())
