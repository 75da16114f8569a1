"""Before and after a Locust run: what the stores hold, and the route comparison report.
Run from the repository root:

    python -m locust.report snapshot --mysql URL --redis URL --prefix P > before.json
    python -m locust.report write RUN_DIR --before before.json --mysql URL --redis URL --prefix P [--strict]

`write` reads Locust's final statistics (stats.json) and history CSV and the ids every 201
carried (ids.csv), both written by locustfile.py,
and writes RUN_DIR/report.md and RUN_DIR/routes.png: per route, requests, failures,
throughput and p50/p95/p99 latency, a chart over time, and a reconciliation of every 201
against the rows MySQL gained per route and the total Redis gained. It exits non-zero when
a record was lost or duplicated (and, with --strict, when any request failed).
Without --mysql the reconciliation is reported as not done, and the run does not pass.
"""

import argparse
import csv
import json
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from scripts.stack import mysql_connect

ROUTES = ("grpc", "redis")


def redis_total(url: str, prefix: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).get(f"{prefix}total") or 0)


def redis_counts(url: str, prefix: str) -> dict[str, int]:
    """The live view's count per `COURSE:SEMESTER:YEAR`."""
    import redis

    counts = redis.Redis.from_url(url).hgetall(f"{prefix}counts")
    return {field.decode(): int(n) for field, n in counts.items()}


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
    }


def read_stats(run: Path) -> dict[str, dict]:
    """Locust's final statistics per route (written by locustfile.py as Locust quits)."""
    return json.loads((run / "stats.json").read_text())


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
                (float(row["Timestamp"]), float(row["Requests/s"]), float(p95) if p95 not in ("N/A", "") else float("nan"))
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


def reconcile(run: Path, before: dict, failures: int, args) -> tuple[list[str], list[str]]:
    """Table lines and problems found comparing 201 answers with the stores."""
    # `route,id,key` for each grade answered 201, `-,,key` for each one given up on.
    entries = [line.strip().split(",") for line in (run / "ids.csv").read_text().splitlines() if line.strip()] if (
        run / "ids.csv"
    ).exists() else []
    answered = [(route, record_id) for route, record_id, *_ in entries if record_id]
    keys = {rest[0]: int(record_id) for _, record_id, *rest in entries if record_id and rest}
    given_up = [rest[0] for _, record_id, *rest in entries if not record_id and rest]
    per_route = Counter(route for route, _ in answered)
    ids = [int(i) for _, i in answered]
    problems = []
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    if duplicated:
        problems.append(f"{len(duplicated)} ids were answered more than once, e.g. {duplicated[:5]}")

    if not args.mysql:
        return ["Not reconciled: no MySQL URL given (`mysql=...`)."], ["the run was not reconciled"]

    # What the run stored: each new row's route and course term, and the keys committed.
    with mysql_connect(args.mysql) as db, db.cursor() as cur:
        cur.execute("SELECT id, route, CONCAT(curso, ':', semestre, ':', year) FROM grades WHERE id > %s",
                    (before["max_id"],))
        new_rows = cur.fetchall()
        cur.execute("SELECT CAST(idem_key AS CHAR), grade_id FROM idempotency_keys WHERE grade_id > %s",
                    (before["max_id"],))
        stored_keys = {k: int(i) for k, i in cur.fetchall()}
    stored = {int(i): r for i, r, _ in new_rows}
    answered_routes = {int(i): r for r, i in answered}
    lost = [i for i in answered_routes if i not in stored]
    wrong_route = [i for i, r in answered_routes.items() if i in stored and stored[i] != r]
    unanswered = [i for i in stored if i not in answered_routes]
    given_up_stored = matched = 0
    if keys or given_up:
        # Every grade the load test meant to send is stored exactly once: a key has at most
        # one row (its primary key), an answered key is the row that was answered, and no
        # row was stored without a key.
        wrong_key = [k for k, i in keys.items() if stored_keys.get(k) != i]
        keyless = set(stored) - set(stored_keys.values())
        given_up_stored = sum(k in stored_keys for k in given_up)
        matched = len(keys) - len(wrong_key)
        if wrong_key:
            problems.append(f"{len(wrong_key)} keys were answered with an id that is not their stored grade")
        if keyless:
            problems.append(f"{len(keyless)} rows were stored without the key their grade was sent with")
    if lost:
        problems.append(f"{len(lost)} records answered 201 are not in MySQL, e.g. {lost[:5]}")
    # A retry may reach the other route and be answered with the id the first route stored:
    # with keys, the key check above is the exact one.
    if wrong_route and not keys:
        problems.append(f"{len(wrong_route)} records are stored under another route, e.g. {wrong_route[:5]}")
    if len(unanswered) > failures:
        problems.append(f"{len(unanswered)} rows were stored without a 201 (only {failures} requests failed)")

    # The live view is exact: Redis's total grew by route 2's new rows in MySQL. It may trail
    # MySQL by an outbox replay; give it a few seconds.
    rows = Counter(stored.values())
    redis_gain = 0
    for _ in range(20):
        redis_gain = redis_total(args.redis, args.prefix) - before["redis_total"]
        if redis_gain == rows["redis"]:
            break
        time.sleep(0.5)
    if redis_gain != rows["redis"]:
        problems.append(f"Redis total grew by {redis_gain}, MySQL gained {rows['redis']} route 2 rows")
    # And so is each count per course, semester and year.
    mysql_counts = Counter(field for _, route, field in new_rows if route == "redis")
    earlier = before.get("redis_counts", {})
    counted = {f: n - earlier.get(f, 0) for f, n in redis_counts(args.redis, args.prefix).items()}
    counted = {f: n for f, n in counted.items() if n}
    if counted != mysql_counts:
        differ = sorted(f for f in counted.keys() | mysql_counts.keys() if counted.get(f) != mysql_counts.get(f))
        problems.append(f"Redis counts differ from route 2's MySQL rows for {len(differ)} course terms, e.g. {differ[:3]}")
    lines = [
        "| | route 1 (grpc) | route 2 (redis) |",
        "|---|---:|---:|",
        f"| 201 answers (distinct ids) | {per_route['grpc']} | {per_route['redis']} |",
        f"| rows MySQL gained | {rows['grpc']} | {rows['redis']} |",
        f"| answered but not in MySQL | {sum(answered_routes[i] == 'grpc' for i in lost)} | "
        f"{sum(answered_routes[i] == 'redis' for i in lost)} |",
        f"| Redis total gained | n/a | {redis_gain} |",
    ]
    if keys or given_up:
        lines.append(f"\n{len(keys) + len(given_up)} grades were sent with an `Idempotency-Key`: {len(keys)} "
                     f"acknowledged ({matched} stored once, under their key); {len(given_up)} given up "
                     f"after retries ({given_up_stored} of them stored, once).")
    if wrong_route and keys:
        lines.append(f"\n{len(wrong_route)} retries were answered by the other route than the one that had "
                     f"stored their grade (its first answer was lost); each is counted under the route that stored it.")
    if unanswered:
        lines.append(f"\n{len(unanswered)} rows were stored for requests that did not get a 201 "
                     f"(a timeout after the commit); {failures} requests failed.")
    return lines, problems


def write(args) -> int:
    run = Path(args.run)
    before = json.loads(Path(args.before).read_text()) if args.before else {"max_id": 0, "rows": {}, "redis_total": 0}
    stats = read_stats(run)
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    charted = draw_chart(run)
    failures = sum(s["failures"] for r, s in stats.items() if r != "Aggregated")
    recon_lines, problems = reconcile(run, before, failures, args)
    if args.strict and failures:
        problems.append(f"{failures} requests failed")

    out = [
        "# Route comparison",
        "",
        f"Run {run.name}, written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. "
        + ", ".join(f"{k} {v}" for k, v in meta.items()),
        "",
        "| route | requests | failures | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for route in [*ROUTES, *sorted(set(stats) - {*ROUTES, "Aggregated"}), "Aggregated"]:
        if route in stats:
            s = stats[route]
            label = {"grpc": "route 1 (grpc)", "redis": "route 2 (redis)", "Aggregated": "both"}.get(route, route)
            out.append(f"| {label} | {s['requests']} | {s['failures']} | {s['rps']:.1f} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} |")
    if all(r in stats for r in ROUTES):
        g, r = stats["grpc"], stats["redis"]
        faster = "route 1 (grpc)" if g["p95"] < r["p95"] else "route 2 (redis)" if r["p95"] < g["p95"] else "neither route"
        out += ["", f"**Faster at p95: {faster}** (grpc {g['p50']:.0f}/{g['p95']:.0f} ms, redis {r['p50']:.0f}/{r['p95']:.0f} ms at p50/p95)."]
    if charted:
        out += ["", "![Throughput and p95 latency per route](routes.png)"]
    out += ["", "## Reconciliation", "", *recon_lines, ""]
    out += [f"**FAIL**: {p}" for p in problems] or ["**PASS**: every 201 is one row in MySQL, none twice, each key stored at most once, and Redis counted every route 2 row exactly once, in its total and per course."]
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
    parser.add_argument("--prefix", default="notas:", help="REDIS_KEY_PREFIX of the target")
    parser.add_argument("--strict", action="store_true", help="fail on any failed request too")
    args = parser.parse_args()
    if args.command == "snapshot":
        print(json.dumps(snapshot(args)) if args.mysql else json.dumps({"max_id": 0, "rows": {}, "redis_total": 0}))
        return 0
    return write(args)


if __name__ == "__main__":
    sys.exit(main())
