"""Before and after a Locust run: what the stores and the servers hold, and the route
comparison report. Run from the repository root:

    python -m scripts.loadtest_report snapshot --mysql URL --redis URL [--prefix P] [--prometheus URL --cpu local|cadvisor] > before.json
    python -m scripts.loadtest_report write RUN_DIR --before before.json --mysql URL --redis URL [--prefix P] [...] [--strict]

`write` reads what locust/locustfile.py's processes wrote to RUN_DIR (every key and attempt, and
each process's CPU) and Locust's history CSV, and writes RUN_DIR/report.md and
RUN_DIR/routes.png:
- client side (Locust): per route, requests, failures, throughput, p50/p95/p99 latency, from
  every attempt each process recorded, and a chart over time;
- the load generator: each Locust process's CPU, with a warning when one was saturated (then
  the client-side latencies measure Locust's queueing more than the routes);
- server side, between the snapshots: each route's latency p50/p95/p99 from the services'
  own histograms in Prometheus (`--prometheus`), and the CPU per stored record of each
  route's processes, from the processes of the local stack (`--cpu local`) or cAdvisor's
  container counters in the cluster's Prometheus (`--cpu cadvisor`);
- the reconciliation of every key sent against the rows MySQL gained per route and what
  Redis counted: an acknowledged grade is its row, a grade given up or cut at the stop
  (sent, never answered) is stored once at most, and no row comes from elsewhere.
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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from scripts.contract import KEY_PREFIX, LiveKeys, count_field
from scripts.stack import (
    cpu_seconds,
    mysql_connect,
    prometheus_query,
    running_pid,
    stack_processes,
    wait_for_summaries,
)

ROUTES = ("grpc", "redis")
LABELS = {"grpc": "route 1 (grpc)", "redis": "route 2 (redis)", "Aggregated": "both"}
# The processes each route runs alone, and those both share, by their cluster container
# names. Route 2's architecture includes Redis (the live view); the split's nginx runs only
# in the local stack (ingress-nginx is outside so1p2, so cAdvisor's series here skip it).
PROCESSES = {"grpc": ("grpc-client", "grpc-server"), "redis": ("redis-api", "redis"), "shared": ("mysql", "nginx")}
# The same processes in the local stack, by program name.
LOCAL_NAMES = {
    "grpc-client": "grpc-client",
    "grpc-server": "grpc-server",
    "redis-api": "redis-api",
    "redis-server": "redis",
    "mariadbd": "mysql",
    "nginx": "nginx",
}
LATENCY_BUCKETS = 'sum by (route, le) (http_request_duration_seconds_bucket{path="/notas", method="POST"})'
# The services do not export process_cpu_seconds_total; the kubelets' cAdvisor counts each container.
CONTAINER_CPU = (
    'sum by (container) (container_cpu_usage_seconds_total{namespace="so1p2", container!="", container!="POD"})'
)
# Past this share of a core a Locust process delays its own requests.
GENERATOR_LIMIT = 0.8


def redis_total(url: str, prefix: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).get(LiveKeys(prefix).total()) or 0)


def redis_counts(url: str, prefix: str) -> dict[str, int]:
    """The live view's count per course term (`contract.count_field`)."""
    import redis

    counts = redis.Redis.from_url(url).hgetall(LiveKeys(prefix).counts())
    return {field.decode(): int(n) for field, n in counts.items()}


def wait_for_scrape(prometheus: str, since: float, seconds: float = 30) -> bool:
    """Whether Prometheus has scraped every target after `since` (each target's `up` is
    stamped with its last scrape) within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        oldest = prometheus_query(prometheus, "min(timestamp(up))")
        if oldest and float(oldest[0]["value"][1]) > since:
            return True
        time.sleep(0.5)
    return False


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
            debug = any("/target/debug/" in executable(pid) for pid in procs["grpc-client"])
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
        for series in prometheus_query(args.prometheus, LATENCY_BUCKETS):
            route, le = series["metric"].get("route", "none"), series["metric"]["le"]
            found["latency"].setdefault(route, {})[le] = float(series["value"][1])
        if args.cpu == "cadvisor":
            containers = prometheus_query(args.prometheus, CONTAINER_CPU)
            if containers:
                found["cpu"] = {c["metric"]["container"]: float(c["value"][1]) for c in containers}
                found["cpu_source"] = "cAdvisor's `container_cpu_usage_seconds_total` in Prometheus"
            else:
                found["cpu_problem"] = f"Prometheus at {args.prometheus} has no cAdvisor series for so1p2"
    except OSError as e:
        found.pop("latency", None)
        found["latency_problem"] = f"Prometheus at {args.prometheus} did not answer: {e}"
        if args.cpu == "cadvisor":
            found["cpu_problem"] = found["latency_problem"]
    return found


def executable(pid: int) -> str:
    import psutil

    try:
        return psutil.Process(pid).exe()
    except psutil.Error:
        return ""


def snapshot(args) -> dict:
    with mysql_connect(args.mysql) as db, db.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM grades")
        (max_id,) = cur.fetchone()
        cur.execute("SELECT route, COUNT(*) FROM grades GROUP BY route")
        rows = {route: count for route, count in cur.fetchall()}
    return {
        "max_id": int(max_id),
        "rows": rows,
        "redis_total": redis_total(args.redis, args.prefix),
        "redis_counts": redis_counts(args.redis, args.prefix),
        "server": server_counters(args),
    }


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


def read_ids(run: Path) -> tuple[set[str], dict[str, tuple[str, int]], set[str], list[tuple[str, bool, float, float]]]:
    """From every Locust process's ids file: the keys sent, each acknowledged key's route and
    id, the keys given up after their last attempt, and every attempt's route, success,
    latency (ms) and end (unix seconds)."""
    sent, acked, given_up, tries = set(), {}, set(), []
    for path in run.glob("ids-*.csv"):
        for line in path.read_text().splitlines():
            event, key, *rest = line.split(",")
            if event == "sent":
                sent.add(key)
            elif event == "try":
                tries.append((rest[0], rest[1] == "ok", float(rest[2]), float(rest[3])))
            elif event == "201":
                acked[key] = (rest[0], int(rest[1]))
            elif event == "given-up":
                given_up.add(key)
    return sent, acked, given_up, tries


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


def nearest_rank(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values: the smallest value with at least a share q at or below it."""
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


@dataclass
class Stored:
    """What the stores gained during the run (`stored_since`)."""

    rows: list[tuple[int, str, str]]  # each new row's id, route and course term (`count_field`)
    keys: dict[str, int]  # the Idempotency-Keys committed with them: key -> grade id
    redis_gain: int  # how much the live view's total grew
    redis_counts: dict[str, int]  # how much each course term's live count grew (those that did)


def stored_since(args, before: dict) -> Stored:
    """The rows and keys MySQL gained after the snapshot `before`, and what Redis counted."""
    with mysql_connect(args.mysql) as db, db.cursor() as cur:
        cur.execute(
            "SELECT id, route, curso, CAST(semestre AS CHAR), year FROM grades WHERE id > %s", (before["max_id"],)
        )
        rows = [(int(i), route, count_field(c, s, y)) for i, route, c, s, y in cur.fetchall()]
        cur.execute(
            "SELECT CAST(idem_key AS CHAR), grade_id FROM idempotency_keys WHERE grade_id > %s", (before["max_id"],)
        )
        keys = {k: int(i) for k, i in cur.fetchall()}
    # The live view may trail MySQL by an outbox replay: give its total a few seconds to
    # reach route 2's new rows.
    route2 = sum(route == "redis" for _, route, _ in rows)
    for _ in range(20):
        gain = redis_total(args.redis, args.prefix) - before["redis_total"]
        if gain == route2:
            break
        time.sleep(0.5)
    earlier = before.get("redis_counts", {})
    counted = {f: n - earlier.get(f, 0) for f, n in redis_counts(args.redis, args.prefix).items()}
    return Stored(rows, keys, gain, {f: n for f, n in counted.items() if n})


def reconcile(
    sent: set[str], acked: dict[str, tuple[str, int]], given_up: set[str], stored: Stored
) -> tuple[list[str], list[str], Counter]:
    """Table lines, the problems found comparing every key sent (`read_ids`) with what the
    stores gained (`stored_since`), and the rows MySQL gained per route."""
    cut = sent - acked.keys() - given_up  # sent, never answered: Locust ended its user
    answered_routes = {record_id: route for route, record_id in acked.values()}
    per_route = Counter(answered_routes.values())
    problems = []
    if len(answered_routes) < len(acked):
        problems.append(f"{len(acked) - len(answered_routes)} ids were answered for more than one key")

    routes = {i: route for i, route, _ in stored.rows}
    stored_keys = stored.keys
    # Every grade sent is stored exactly once at most: a key has at most one row (its primary
    # key), an acknowledged key is the row that was answered, every row has the key of a
    # grade this run sent, and only a grade acknowledged, given up or cut at the stop has one.
    lost = [i for i in answered_routes if i not in routes]
    wrong_key = [k for k, (_, i) in acked.items() if i in routes and stored_keys.get(k) != i]
    keyless = set(routes) - set(stored_keys.values())
    never_sent = [k for k in stored_keys if k not in sent]
    given_up_stored = sum(k in stored_keys for k in given_up)
    cut_stored = sum(k in stored_keys for k in cut)
    unanswered = Counter(r for i, r in routes.items() if i not in answered_routes)
    wrong_route = [i for i, r in answered_routes.items() if i in routes and routes[i] != r]
    if lost:
        problems.append(f"{len(lost)} records answered 201 are not in MySQL, e.g. {lost[:5]}")
    if wrong_key:
        problems.append(f"{len(wrong_key)} keys were answered with an id that is not their stored grade")
    if keyless:
        problems.append(
            f"{len(keyless)} rows were stored without the key their grade was sent with "
            f"(a grade stored twice), e.g. {sorted(keyless)[:5]}"
        )
    if never_sent:
        problems.append(f"{len(never_sent)} rows carry a key this run never sent, e.g. {never_sent[:3]}")

    # The live view is exact: Redis's total grew by route 2's new rows in MySQL, and so did
    # each count per course, semester and year.
    rows = Counter(routes.values())
    redis_gain = stored.redis_gain
    if redis_gain != rows["redis"]:
        problems.append(f"Redis total grew by {redis_gain}, MySQL gained {rows['redis']} route 2 rows")
    mysql_counts = Counter(field for _, route, field in stored.rows if route == "redis")
    counted = stored.redis_counts
    if counted != mysql_counts:
        differ = sorted(f for f in counted.keys() | mysql_counts.keys() if counted.get(f) != mysql_counts.get(f))
        problems.append(
            f"Redis counts differ from route 2's MySQL rows for {len(differ)} course terms, e.g. {differ[:3]}"
        )
    lines = [
        "| | route 1 (grpc) | route 2 (redis) |",
        "|---|---:|---:|",
        f"| 201 answers (distinct ids) | {per_route['grpc']} | {per_route['redis']} |",
        f"| rows MySQL gained | {rows['grpc']} | {rows['redis']} |",
        f"| answered but not in MySQL | {sum(answered_routes[i] == 'grpc' for i in lost)} | "
        f"{sum(answered_routes[i] == 'redis' for i in lost)} |",
        f"| stored, never answered (cut at the stop, given up) | {unanswered['grpc']} | {unanswered['redis']} |",
        f"| Redis total gained | n/a | {redis_gain} |",
        "",
        f"{len(sent)} grades were sent, each with its `Idempotency-Key`: {len(acked)} acknowledged "
        f"({len(acked) - len(wrong_key)} stored once, under their key); {len(given_up)} given up after retries "
        f"({given_up_stored} of them stored, once); **{len(cut)} cut at the stop** (sent, never answered: "
        f"Locust ends its users with requests in flight), {cut_stored} of them stored, once.",
    ]
    if wrong_route:
        lines.append(
            f"\n{len(wrong_route)} retries were answered by the other route than the one that had "
            f"stored their grade (its first answer was lost); each is counted under the route that stored it."
        )
    return lines, problems, rows


def quantile(q: float, buckets: dict[str, float]) -> float | None:
    """The q-quantile of a histogram's cumulative counts per upper bound `le`, interpolated
    within its bucket as PromQL's histogram_quantile does; None without observations."""
    bounds = sorted((float(le), n) for le, n in buckets.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank, lower, below = q * bounds[-1][1], 0.0, 0.0
    for le, n in bounds:
        if n >= rank:
            if math.isinf(le):
                return lower  # beyond the highest finite bound: that bound
            return lower + (le - lower) * (rank - below) / (n - below) if n > below else le
        lower, below = le, n
    return lower


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


def server_lines(before: dict, after: dict, rows: Counter) -> list[str]:
    """The server side's section: each route's latency from the services' histograms and the
    CPU per stored record of its processes, between the snapshots `before` and `after`."""
    lines, p95 = ["### Latency at the services (Prometheus)", ""], {}
    if "latency" in after and "latency" in before:
        lines += [
            "From each route's own `http_request_duration_seconds` histogram for `POST /notas` (every answer; "
            "route 1's includes its gRPC call), the counts gained during the run; quantiles interpolated "
            "within the buckets (1, 2.5, 5, 10, 25, 50, 100, 250 ms, ...) as `histogram_quantile` does.",
            "",
            "| route | POSTs answered | p50 (ms) | p95 (ms) | p99 (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for route in ROUTES:
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
        if len(p95) == 2:
            faster = min(p95, key=p95.get) if p95["grpc"] != p95["redis"] else None
            lines += ["", f"**Faster at p95 at the services: {LABELS[faster] if faster else 'neither route'}.**"]
        if "stale" in after:
            lines += ["", f"({after['stale']}: the last seconds may be missing.)"]
    else:
        lines.append(f"Not measured: {after.get('latency_problem') or before.get('latency_problem')}.")

    lines += ["", "### CPU per stored record", ""]
    if "cpu" not in after or "cpu" not in before:
        lines.append(
            f"Not measured: {after.get('cpu_problem') or before.get('cpu_problem') or 'no `--cpu` source given'}."
        )
        return lines
    used = {name: after["cpu"][name] - before["cpu"].get(name, 0.0) for name in after["cpu"]}
    total = rows["grpc"] + rows["redis"]
    lines += [
        f"CPU seconds each process used during the run (until the report summaries had caught up), from "
        f"{after['cpu_source']}, per row MySQL gained: each route's own processes per record of that route; "
        "the shared ones per record of either.",
        "",
        "| | records | processes (µs per record) | total (µs per record) |",
        "|---|---:|---|---:|",
    ]
    own = {}
    for part in (*ROUTES, "shared"):
        records = total if part == "shared" else rows[part]
        measured = [name for name in PROCESSES[part] if name in used]
        if not records or not measured:
            lines.append(f"| {LABELS.get(part, part)} | {records} | not measured | n/a |")
            continue
        each = {name: used[name] * 1e6 / records for name in measured}
        own[part] = sum(each.values())
        lines.append(
            f"| {LABELS.get(part, part)} | {records} | "
            + ", ".join(f"{name} {v:,.0f}" for name, v in each.items())
            + f" | {own[part]:,.0f} |"
        )
    if "grpc" in own and "redis" in own:
        cheaper = min(("grpc", "redis"), key=own.get)
        lines += [
            "",
            f"**Cheaper per record: {LABELS[cheaper]}** (its own processes' CPU: route 1 {own['grpc']:,.0f} µs, "
            f"route 2 {own['redis']:,.0f} µs).",
        ]
    missing = [name for part in PROCESSES.values() for name in part if name not in used]
    if missing:
        lines += ["", f"Not counted (not among the measured processes): {', '.join(missing)}."]
    return lines


def write(args) -> int:
    run = Path(args.run)
    before = json.loads(Path(args.before).read_text()) if args.before else {"max_id": 0, "rows": {}, "redis_total": 0}
    sent, acked, given_up, tries = read_ids(run)
    stats = client_stats(tries)
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    charted = draw_chart(run)
    failures = sum(s["failures"] for r, s in stats.items() if r != "Aggregated")
    if args.mysql:
        recon_lines, problems, rows = reconcile(sent, acked, given_up, stored_since(args, before))
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
    server = server_lines(before.get("server", {}), server_counters(args), rows)
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
        "| route | requests | failures | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for route in [*ROUTES, *sorted(set(stats) - {*ROUTES, "Aggregated"}), "Aggregated"]:
        if route in stats:
            s = stats[route]
            out.append(
                f"| {LABELS.get(route, route)} | {s['requests']} | {s['failures']} | {s['rps']:.1f} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} |"
            )
    if all(r in stats for r in ROUTES):
        g, r = stats["grpc"], stats["redis"]
        faster = (
            "route 1 (grpc)" if g["p95"] < r["p95"] else "route 2 (redis)" if r["p95"] < g["p95"] else "neither route"
        )
        out += [
            "",
            f"**Faster at p95 at the client: {faster}** (grpc {g['p50']:.0f}/{g['p95']:.0f} ms, redis {r['p50']:.0f}/{r['p95']:.0f} ms at p50/p95).",
        ]
    if charted:
        out += ["", "![Throughput and p95 latency per route](routes.png)"]
    out += ["", "## Load generator", "", *generator, "", "## Server side", "", *server]
    out += ["", "## Reconciliation", "", *recon_lines, ""]
    out += [f"**FAIL**: {p}" for p in problems] or [
        "**PASS**: every 201 is one row in MySQL, none twice; every row is a grade this run sent, under its key, "
        "stored once whether it was acknowledged, given up or cut at the stop; and Redis counted every route 2 row "
        "exactly once, in its total and per course."
    ]
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
