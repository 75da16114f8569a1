"""The stores and the servers before a run, once they are at rest (`python -m scripts.loadtest
snapshot`): the report compares what they hold after the run with this."""

import math
import time

from scripts.common.prometheus import fresh, wait_for_scrape
from scripts.common.prometheus import query as prometheus_query
from scripts.common.stores import live_counts as redis_counts
from scripts.common.stores import live_total as redis_total
from scripts.common.stores import mysql_connect
from scripts.loadtest.routes import Sources
from scripts.loadtest.server import server_counters

# Route 3's records appended and not yet stored: every member reports every partition, and
# the group's lag on one is the members' largest (crates/grade-consumer/src/lag.rs).
QUEUE_LAG = "sum(max by (group, topic, partition) {})"


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


def snapshot(sources: Sources, seconds: float = 60) -> dict:
    """What the stores hold before the run, once they are at rest: route 3's queue drained (its
    consumers' lag, when Prometheus has it) and the live view's total equal to the rows of
    routes 2 and 3 in MySQL (it is exact), or `seconds` have passed. Until then they are still
    catching up with grades accepted before the run (route 3's queue, the live view's rebuild
    after Redis restarted, route 2's outbox), which the run would otherwise be blamed for."""
    start = time.time()
    if sources.prometheus:
        wait_for_scrape(sources.prometheus, start)
    with mysql_connect(sources.mysql, autocommit=True) as db, db.cursor() as cur:
        while True:
            lag = queue_lag(sources.prometheus, start)
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM grades")
            (max_id,) = cur.fetchone()
            cur.execute("SELECT route, COUNT(*) FROM grades GROUP BY route")
            rows = {route: count for route, count in cur.fetchall()}
            total = redis_total(sources.redis, sources.prefix)
            live = rows.get("redis", 0) + rows.get("queue", 0)
            if (total == live and not lag) or time.time() > start + seconds:
                break
            time.sleep(0.5)
    found = {
        "max_id": int(max_id),
        "rows": rows,
        "redis_total": total,
        "redis_counts": redis_counts(sources.redis, sources.prefix),
        "server": server_counters(sources),
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


def empty_snapshot(sources: Sources) -> dict:
    """The snapshot without a MySQL URL: no rows known, the servers' counters only."""
    return {"max_id": 0, "rows": {}, "redis_total": 0, "server": server_counters(sources)}
