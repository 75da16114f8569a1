"""Each route, directly and through nginx's 50/50 split: its highest sustained rate (closed
model) with the CPU seconds per record of every process, its latency at fixed arrival rates
(open model), and for the split the latency target's run at half its highest rate, with the
writers' flush times read from their /metrics meanwhile. Each route alone also runs at the
load test's pace, for the CPU per record a user sees live."""

import time
from collections.abc import Callable

from scripts.bench.figures import cores, rate_of
from scripts.bench.load import beside_busy_load, log, oha, oha_at_once
from scripts.bench.queue import drain_queue, queue_run
from scripts.bench.settings import (
    CONNECTIONS,
    PACED_PASSES,
    PACED_RATE,
    QUEUE,
    RATES,
    ROUTE1,
    ROUTE2,
    SECONDS_HALF,
    SECONDS_MAX,
    SECONDS_PACED,
    SECONDS_RATE,
    SPLIT,
    SPLIT_CONNECTIONS,
)
from scripts.common import metrics
from scripts.common.metrics import Histogram, histogram_quantile
from scripts.common.processes import children_seconds, cpu_seconds
from scripts.common.stores import grade_count, mysql_connect
from scripts.stack import wait_for_summaries


def sustained(
    url: str | tuple[str, ...],
    procs: dict[str, list[int]],
    mysql_url: str,
    brokers: str | None = None,
    connections: int = CONNECTIONS,
    batch_urls: dict[str, str] | None = None,
) -> dict:
    """The highest sustained rate (closed model), the rows MySQL gained, and the CPU seconds
    per 1,000 records of every process, counted until the summaries have caught up. With
    `brokers` (route 3: 202s), first until the consumers have drained the topic; "queue" then
    says how many rows were stored while the load ran and how long the drain took. With
    `batch_urls`, also what the batches and InnoDB's locks were meanwhile ("batches", "innodb").
    Several URLs are loaded at once, each with `connections`."""
    rows_before, cpu_before = grade_count(mysql_url), cpu_seconds(procs)
    counted_before = batch_counts(batch_urls or {}), innodb_counts(mysql_url)
    oha_before = children_seconds()
    top = oha_at_once(url, seconds=SECONDS_MAX, connections=connections, ok=202 if brokers else 201)
    oha_cpu = children_seconds() - oha_before
    queue = None
    if brokers:
        rows_at_end = grade_count(mysql_url)
        drain_s = drain_queue(brokers)
        queue = {"stored_during": rows_at_end - rows_before, "drained": grade_count(mysql_url) - rows_at_end}
        queue["drain_s"] = drain_s
    catch_up = wait_for_summaries(mysql_url)
    time.sleep(0.5)
    rows_after, cpu_after = grade_count(mysql_url), cpu_seconds(procs)
    batches, innodb = batch_counts(batch_urls or {}), innodb_counts(mysql_url)
    per_thousand = {p: (cpu_after[p] - cpu_before[p]) * 1000 / max(top["ok"], 1) for p in procs}
    return {
        "top": top,
        "rows": rows_after - rows_before,
        "cpu": per_thousand,
        "catch_up_s": catch_up,
        "oha_cpu": oha_cpu * 1000 / max(top["ok"], 1),
        "queue": queue,
        # Each flusher's grades and batches (grpc-client's: calls to grpc-server) during the run.
        "batches": {
            name: tuple(after - before for after, before in zip(batches[name], counted_before[0][name]))
            for name in batches
        },
        "innodb": {name: n - counted_before[1][name] for name, n in innodb.items()},
    }  # CPU seconds per 1,000 records, as "cpu"


# InnoDB's counters of lock waits and deadlocks (SHOW GLOBAL STATUS).
INNODB_COUNTERS = ("Innodb_deadlocks", "Innodb_row_lock_waits", "Innodb_row_lock_time")


def innodb_counts(mysql_url: str) -> dict[str, float]:
    """InnoDB's lock counters so far; `Innodb_row_lock_time` in ms."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN {INNODB_COUNTERS}")
        return {name: float(value) for name, value in cur.fetchall()}


# Each flusher's batch-size histogram: the writers' (grpc-server's, redis-api's:
# notas_batch_size; grade-consumer's: notas_queue_batch_size) and grpc-client's, whose
# batches are its calls to grpc-server.
BATCH_HISTOGRAMS = {
    "grpc-client": "notas_batch_size",
    "grpc-server": "notas_batch_size",
    "redis-api": "notas_batch_size",
    "grade-consumer": "notas_queue_batch_size",
}


def batch_counts(urls: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Each flusher's grades and batches so far (its batch-size histogram's sum and count),
    read from its /metrics at `urls`."""
    found = {}
    for name, url in urls.items():
        sizes = metrics.histogram(metrics.fetch(url), BATCH_HISTOGRAMS[name])
        found[name] = (sizes.sum, sizes.count)
    return found


def per_stored_record(
    run: Callable[[], dict], procs: dict[str, list[int]], mysql_url: str, brokers: str | None = None
) -> tuple[dict, dict[str, float]]:
    """What `run` returns, and every process's CPU seconds per row it stored, counted until the
    rows are stored and summarized (with `brokers`, route 3's: until its topic is drained)."""
    rows_before, cpu_before = grade_count(mysql_url), cpu_seconds(procs)
    result = run()
    if brokers:
        drain_queue(brokers)
    wait_for_summaries(mysql_url)
    rows, cpu_after = max(grade_count(mysql_url) - rows_before, 1), cpu_seconds(procs)
    return result, {p: (cpu_after[p] - cpu_before[p]) / rows for p in procs}


def paced(url: str, procs: dict[str, list[int]], mysql_url: str, brokers: str | None = None) -> list[dict]:
    """The route alone at the load test's pace (PACED_RATE records/s), in PACED_PASSES passes:
    each pass's CPU µs per stored record of every process, counted as the load test's report
    counts it, until the rows are stored and summarized (route 3: until its topic is drained)."""
    passes = []
    for _ in range(PACED_PASSES):
        _, cpu = per_stored_record(
            lambda: oha(url, seconds=SECONDS_PACED, connections=64, rate=PACED_RATE, ok=202 if brokers else 201),
            procs,
            mysql_url,
            brokers,
        )
        passes.append({p: seconds * 1e6 for p, seconds in cpu.items()})
    return passes


def measure(
    targets: dict[str, str], procs, mysql_url: str, brokers: str, static_url: str, flush_urls: dict[str, str]
) -> dict:
    """Every target's highest sustained rate, then its runs at fixed rates; the split also at
    half its highest rate, with its parts. `procs` gives the stack's processes, read anew for
    each target."""
    results = {}
    for name, url in targets.items():
        queued = name == QUEUE
        connections = SPLIT_CONNECTIONS if name == SPLIT else CONNECTIONS
        log(f"{name}: highest sustained rate")
        results[name] = sustained(
            url,
            procs(),
            mysql_url,
            brokers=brokers if queued else None,
            connections=connections,
            batch_urls=None if queued else flush_urls,
        )
        if name == SPLIT:
            log(f"{name}: highest sustained rate with {CONNECTIONS} connections, half as many per route")
            fewer = sustained(url, procs(), mysql_url, connections=CONNECTIONS, batch_urls=flush_urls)
            results[name]["fewer_connections"] = fewer
            log(f"{ROUTE1} and {ROUTE2} at once, {CONNECTIONS} connections each: highest sustained rate")
            both = (targets[ROUTE1], targets[ROUTE2])
            results[name]["together"] = sustained(both, procs(), mysql_url, batch_urls=flush_urls)
        results[name]["rates"] = {}
        for rate in RATES:
            log(f"{name}: {rate}/s")
            if queued:
                results[name]["rates"][rate] = queue_run(url, rate, SECONDS_RATE, mysql_url, brokers)
            else:
                results[name]["rates"][rate] = oha(url, seconds=SECONDS_RATE, connections=256, rate=rate)
        if name == SPLIT:
            results[name] |= at_half(results[name], url, targets, static_url, flush_urls, procs(), mysql_url)
        else:
            log(f"{name}: {PACED_RATE}/s, the load test's pace")
            results[name]["paced"] = paced(url, procs(), mysql_url, brokers=brokers if queued else None)
    return results


def at_half(
    split: dict,
    url: str,
    targets: dict[str, str],
    static_url: str,
    flush_urls: dict[str, str],
    procs: dict[str, list[int]],
    mysql_url: str,
) -> dict:
    """The latency target's run: the split at half its highest sustained rate as measured now
    ("half"), then what its tail is made of ("half_parts"): each route alone at its half of
    that rate, both routes at once directly at those rates, nginx's static 204 at the whole of
    it, and the slower route alone again beside busy loops that take the CPU the split's run
    used more than it ("loaded"). Each run but the static 204 also counts every process's CPU
    seconds per 1,000 stored records ("cpu"), until the summaries have caught up."""
    half = max(10, round(rate_of(split) / 2))

    def timed(url: str | tuple[str, ...], rate: int, busy_cores: float = 0.0) -> dict:
        """An open-model run at `rate` per URL, with the writers' flushes and the CPU meanwhile,
        beside busy loops that take `busy_cores` ("busy_cores": what they took). Each starts
        once the summaries have caught up with the run before (the split's follows its runs at
        fixed rates at once), so that none starts behind."""
        wait_for_summaries(mysql_url)

        def load() -> dict:
            before = flush_histograms(flush_urls)
            run, took = beside_busy_load(
                lambda: oha_at_once(url, seconds=SECONDS_HALF, connections=256, rate=rate), busy_cores
            )
            return {**run, "busy_cores": took, "flushes": flushes_between(before, flush_histograms(flush_urls))}

        run, cpu = per_stored_record(load, procs, mysql_url)
        return {**run, "rate": rate, "cpu": {p: seconds * 1000 for p, seconds in cpu.items()}}

    log(f"{SPLIT}: {half}/s, half its highest sustained rate")
    found = {"half": timed(url, half)}
    log(f"{SPLIT}: its parts at {half}/s")
    found["half_parts"] = {
        "route 1": timed(targets[ROUTE1], half // 2),
        "route 2": timed(targets[ROUTE2], half // 2),
        "both routes": timed((targets[ROUTE1], targets[ROUTE2]), half // 2),
        "static 204": oha(static_url, seconds=SECONDS_HALF, connections=256, rate=half, post=False),
    }
    parts = found["half_parts"]
    slower = max(("route 1", "route 2"), key=lambda part: parts[part]["p99_ms"])
    extra = cores(found["half"]) - cores(parts[slower])
    log(f"{SPLIT}: {slower} alone at {half // 2}/s beside busy loops that take {extra:.2f} cores")
    route_url = targets[ROUTE1 if slower == "route 1" else ROUTE2]
    found["loaded"] = timed(route_url, half // 2, busy_cores=extra) | {"route": slower, "extra_cores": extra}
    return found


def flush_histogram(text: str) -> Histogram:
    """The flush-time histogram (`notas_batch_flush_seconds`) in a service's /metrics text."""
    return metrics.histogram(text, "notas_batch_flush_seconds")


def flush_histograms(urls: dict[str, str]) -> dict[str, Histogram]:
    """Each service's flush-time histogram so far, read from its /metrics at `urls`."""
    return {name: flush_histogram(metrics.fetch(url)) for name, url in urls.items()}


def flushes_between(before: dict[str, Histogram], after: dict[str, Histogram]) -> dict[str, dict]:
    """The flushes each writer made between two readings: how many, their mean time, and
    their p99 as `histogram_quantile` interpolates it (ms)."""
    flushes = {}
    for name, now in after.items():
        gained = now.minus(before.get(name, Histogram()))
        if gained.count <= 0:
            continue
        p99 = histogram_quantile(0.99, gained.buckets)
        flushes[name] = {"count": gained.count, "mean_ms": gained.sum / gained.count * 1000, "p99_ms": p99 * 1000}
    return flushes
