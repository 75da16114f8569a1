"""BENCHMARKS.md from a run's results: the machine, the ceilings, each route's sustained rate,
latency and CPU per record, route 3 accepted then stored, the large table, the instructions
per record, then the targets (targets.py). `render` is pure, so that a test can read the page
a recorded run gives."""

import os
import statistics
from datetime import datetime, timezone

import psutil

from scripts.bench.callgrind import CG_CONCURRENCY, CG_GRADES, CG_PASSES, CG_SEED, CG_SETTINGS, CG_WARMUP
from scripts.bench.chart import chart
from scripts.bench.figures import ir_per_record, rate_of, route_instructions, rows_check, spread
from scripts.bench.settings import (
    CONNECTIONS,
    LARGE,
    NAIVE,
    PACED_PASSES,
    PACED_RATE,
    QUEUE,
    QUEUE_PROCESSES,
    ROUTE1,
    ROUTE2,
    ROUTE_IDS,
    SECONDS_HALF,
    SECONDS_PACED,
    SECONDS_RATE,
    SPLIT,
)
from scripts.bench.targets import targets
from scripts.common.processes import ROUTE_PROCESSES
from scripts.stack import ROOT


def shared_note(machine: dict) -> str:
    """Whether other processes used the machine during the run, and how much."""
    capacity = machine["seconds"] * (os.cpu_count() or 1)
    share = max(machine["others"], 0.0) / capacity
    load = ", ".join(f"{v:.2f}" for v in machine["load"])
    verdict = (
        "**The run shared the machine**: compare the ratios below, which hold better than the absolute figures."
        if share >= 0.05
        else "The machine was otherwise quiet."
    )
    return (
        f"While it ran ({machine['seconds'] / 60:.0f} min), processes outside the bench used "
        f"{max(machine['others'], 0.0):,.0f} CPU-seconds of the {capacity:,.0f} the cores had ({share:.0%}); the "
        f"load average was {load} when it started. {verdict}"
    )


def render(ceilings: dict, results: dict, naive: dict, large: dict, machine: dict, counted: dict | None) -> str:
    """BENCHMARKS.md's text for a run's results."""
    nginx = ceilings["nginx static 204 (req/s)"]
    mariadb = ceilings["MariaDB durable batched INSERT (rows/s)"]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    closed = sustained_runs(results, naive, large)
    static_us = machine["static_cpu"] * 1e6
    lines = [
        "# Benchmarks",
        "",
        f"Written by `just bench` on {when}, on this machine: {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total // 2**30} GiB. Release builds; MariaDB, Redis, nisshi (route 3's broker),",
        "nginx, the services and the load generator (oha) all share these cores. The grades posted are",
        "Locust's mix (`scripts/common/grades.py`: random students, courses and terms). Regenerate with `just bench`.",
        "",
        shared_note(machine),
        "",
        "## Ceilings of this machine",
        "",
        "| what | measured |",
        "|---|---:|",
        *[f"| {k} | {v:,.0f} |" for k, v in ceilings.items()],
        f"| CPU nginx and oha spend per static 204 (µs) | {static_us:.1f} |",
        f"| CPU nginx spends more per 204 it proxies (µs) | {machine['proxy_cpu'] * 1e6:.1f} |",
        "",
        f"## Highest sustained rate (closed model, 10 s, {CONNECTIONS} connections a route)",
        "",
        "Durable: a 201 only after InnoDB's commit; route 3's 202 only after the broker's `acks=all` append",
        "(it is stored later, by the consumers). The naive baseline is another redis-api writing one",
        'grade per transaction (`BATCH_MAX_SIZE=1`, 16 transactions at a time). "summaries" is how long',
        "after the load the writers' summarizers had caught the report summaries up (on route 3, after its",
        f"consumers had drained the topic). The split has {CONNECTIONS} connections for each of its two routes,",
        'as each route alone has: see "What the split adds".',
        "",
        "| target | 201/s (route 3: 202/s) | errors | rows MySQL gained | / nginx 204 | / MariaDB rows/s | summaries |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, r in closed.items():
        rate = rate_of(r)
        lines.append(
            f"| {name} | {rate:,.0f} | {r['top']['errors']} | {rows_check(r)} | {rate / nginx:.2f} "
            f"| {rate / mariadb:.2f} | {r['catch_up_s']:.1f} s |"
        )
    lines += [
        "",
        f"## Latency at fixed arrival rates (open model, {SECONDS_RATE} s each)",
        "",
        "Route 3's latency is that of its 202 (the broker's acknowledgement), not of the stored row. The split"
        f" also runs at half its highest sustained rate of this run for {SECONDS_HALF} s: the latency target's run.",
        "",
        "| target | rate/s | achieved/s | p50 (ms) | p99 (ms) | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        runs = [(f"{rate:,}", m) for rate, m in r["rates"].items()]
        if "half" in r:
            runs.append((f"{r['half']['rate']:,} (half the highest sustained, {SECONDS_HALF} s)", r["half"]))
        for rate, m in runs:
            lines.append(
                f"| {name} | {rate} | {m['ok'] / m['seconds']:,.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {m['errors']} |"
            )
    lines += queue_section(results, nginx)
    procs = sorted({p for r in closed.values() for p in r["cpu"]})
    lines += [
        "",
        "## CPU µs per record (during the highest-rate run, until the summaries caught up)",
        "",
        '"stack" is every process of the stack; oha, the load generator, shares the same cores. On route 3',
        'it is counted until the consumers had stored every record accepted. "/ static 204" is the stack\'s',
        f"CPU per record over what nginx and oha spend on a static 204 ({static_us:.1f} µs) in this run.",
        "",
        "| target | " + " | ".join(procs) + " | stack | oha | / static 204 |",
        "|---|" + "---:|" * (len(procs) + 3),
    ]
    for name, r in closed.items():
        stack_us = sum(r["cpu"].values()) * 1000
        lines.append(
            f"| {name} | "
            + " | ".join(f"{r['cpu'][p] * 1000:.0f}" for p in procs)
            + f" | **{stack_us:.0f}** | {r['oha_cpu'] * 1000:.0f} | {stack_us / max(static_us, 0.1):.1f}× |"
        )
    lines += paced_section(results)
    lines += [
        "",
        f"## Dashboard reports with {LARGE:,} grades seeded (median of 5, over HTTP)",
        "",
        f"Seeding them and rebuilding the summaries took {large['seconds']:.0f} s.",
        "",
        "| report | ms |",
        "|---|---:|",
        *[f"| {k} | {v:.1f} |" for k, v in large["reports"].items()],
        "",
        "![Throughput against the ceilings](benchmarks.png)",
        "",
    ]
    lines += instructions_section(counted)
    lines += targets(ceilings, results, naive, large, static_us, counted, machine["proxy_cpu"] * 1e6)
    return "\n".join(lines)


def paced_section(results: dict) -> list[str]:
    """Each route's CPU per record at the load test's pace: its own processes' (the median of
    the passes, their range, and that median over the highest rate's), and the stores'."""
    lines = [
        "",
        f"## CPU µs per record at the load test's pace ({PACED_RATE} records/s, {PACED_PASSES} passes of "
        f"{SECONDS_PACED} s)",
        "",
        "Each route alone at the rate it gets in `LT_ROUTES=all just loadtest brief`, counted until its rows were",
        "stored and summarized. That load test, on `just dev`, reports the same figure for each route's own",
        "processes (docs/loadtest.md). At this pace a batch holds a grade or two and the processes sleep and wake",
        "for each request, so a record costs many times what it costs at the highest rate.",
        "",
        "| route | own processes (median) | own processes, total: median (range) | / highest rate | stores (median) |",
        "|---|---|---:|---:|---|",
    ]
    for name, route in ROUTE_IDS.items():
        passes, own = results[name]["paced"], ROUTE_PROCESSES[route]
        totals = [sum(p[x] for x in own) for p in passes]
        highest = sum(results[name]["cpu"][x] for x in own) * 1000
        stores = ("mariadbd", "redis-server", *(("nisshi",) if name == QUEUE else ()))

        def median(process: str) -> str:
            return f"{process} {statistics.median(p[process] for p in passes):,.0f}"

        lines.append(
            f"| {name} | {', '.join(map(median, own))} | **{statistics.median(totals):,.0f}** "
            f"({min(totals):,.0f} to {max(totals):,.0f}) | {statistics.median(totals) / highest:.0f}× "
            f"| {', '.join(map(median, stores))} |"
        )
    return lines


def sustained_runs(results: dict, naive: dict, large: dict) -> dict:
    """Every highest-sustained-rate run, as the tables and the chart list them."""
    return {**results, NAIVE: naive, f"{SPLIT}, {LARGE:,} grades stored": large["split"]}


def write(ceilings: dict, results: dict, naive: dict, large: dict, machine: dict, counted: dict | None) -> None:
    """BENCHMARKS.md and benchmarks.png at the repository root; the page is printed too."""
    text = render(ceilings, results, naive, large, machine, counted)
    (ROOT / "BENCHMARKS.md").write_text(text)
    chart(ceilings, sustained_runs(results, naive, large), results)
    print(text)


def instructions_section(counted: dict | None) -> list[str]:
    """Instructions per record of each service on the fixed mix (callgrind), per route."""
    lines = ["## Instructions per record (callgrind, a fixed mix)", ""]
    if not counted:
        return lines + ["Not counted: valgrind is missing (apt install valgrind).", ""]
    ir = route_instructions(counted)
    route2 = ir["route 2 (redis)"]
    spreads = {
        route: spread(ir_per_record(passes, name))
        for route, passes in counted["routes"].items()
        for name in [*passes[0]["ir"], None]
    }

    def per_batch(route: str, name: str) -> str:
        """Grades per batch of `name` in each pass of `route` (its calls, for grpc-client)."""
        passes = counted["routes"][route]
        return ", ".join(f"{p['rows'] / max(p['batches'][name], 1):.2f}" for p in passes)

    lines += [
        "The steady measure, which does not drift with the machine's speed or load as rates and CPU times do:"
        " after the runs above, one extra instance of each service binary ran under callgrind (valgrind's"
        f" instruction counter) on the stack's stores. Each route was sent {CG_WARMUP} grades to warm up, then"
        f" {CG_PASSES} times, its counters zeroed before and read after, the same {CG_GRADES:,} grades"
        f" (`scripts/common/grades.py`, seed {CG_SEED}) in rounds of {CG_CONCURRENCY} over as many connections (a round's"
        " requests written back to back, the next round once all are answered). Route 1's grpc-client called the grpc-server under callgrind, so both hops are counted;"
        " route 3's queue-api and grade-consumer had a topic and a consumer group of their own, counted until the"
        " consumer had committed every record. The writers under callgrind store batches of"
        f" {CG_CONCURRENCY} grades (`BATCH_MAX_SIZE={CG_SETTINGS['BATCH_MAX_SIZE']}`,"
        f" `BATCH_MAX_WAIT_MS={CG_SETTINGS['BATCH_MAX_WAIT_MS']}`), whatever the timing, and leave the report"
        " summaries to the stack's own writers. A figure is every instruction the process ran (all its threads:"
        " tokio's, librdkafka's) divided by the rows MySQL gained, the median of the passes; MariaDB, Redis and"
        " nisshi are not counted.",
        "",
        "What still varies with timing, and so between passes: how many grades share a call from grpc-client to"
        " grpc-server (as many as queued while its calls were out: grades per call "
        f"{per_batch('route 1 (grpc)', 'grpc-client')} in this run's passes, and each call costs both sides), how"
        " many records share a produce request or a fetch on route 3, how often the sockets are read and the"
        " runtimes park, and the work done on timers meanwhile (the idle column, times the seconds a pass took"
        ' under callgrind). "spread" is (largest − smallest) / median of the passes: route 1'
        f" {spreads['route 1 (grpc)']:.1%}, route 2 {spreads['route 2 (redis)']:.1%}, route 3"
        f" {spreads['route 3 (queue)']:.1%} in this run. Judge a change by a move larger than that.",
        "",
        "| route | service | instructions per record | / route 2 | each pass | spread | grades per batch"
        " | idle, instructions/s | each pass took (s) |",
        "|---|---|---:|---:|---|---:|---|---:|---|",
    ]
    for route, passes in counted["routes"].items():
        took = ", ".join(f"{p['seconds']:.0f}" for p in passes)
        names = list(passes[0]["ir"])
        for name in [*names, None] if len(names) > 1 else names:
            values = ir_per_record(passes, name)
            median = statistics.median(values)
            each = ", ".join(f"{v:,.0f}" for v in values)
            if name:
                batched = per_batch(route, name) if name in passes[0]["batches"] else ""
                if name == "grpc-client":
                    batched += " (calls)"
                lines.append(
                    f"| {route} | {name} | {median:,.0f} | {median / route2:.2f} | {each} | {spread(values):.1%} "
                    f"| {batched} | {counted['idle'][name]:,.0f} | {took} |"
                )
            else:
                lines.append(
                    f"| {route} | **{' + '.join(names)}** | **{median:,.0f}** | **{median / route2:.2f}** | {each} "
                    f"| {spread(values):.1%} | | | |"
                )
    return lines + [""]


def kept_up(m: dict) -> str:
    """Whether a fixed-rate run of route 3 was kept up with, and if not, why."""
    achieved = m["ok"] / m["seconds"]
    if m["kept_up"]:
        return "yes"
    if m["errors"]:
        return f"no: {m['errors']} errors"
    if achieved < 0.99 * m["rate"]:
        return f"no: 202s at {achieved / m['rate']:.0%} of the rate"
    return "no: the lag passed a second of arrivals"


def queue_section(results: dict, nginx: float) -> list[str]:
    """Route 3: what it accepts, what its consumers store, and its CPU, as ratios to the other
    routes' figures in this run."""
    q, route2 = results[QUEUE], results[ROUTE2]
    accepted, route2_rate = rate_of(q), rate_of(route2)
    kept = [m for m in q["keep_up"] if m["kept_up"]]
    best = max(kept, key=lambda m: m["stored_per_s"], default=None)
    during = q["queue"]["stored_during"] / q["top"]["seconds"]
    q_cpu, r2_cpu = sum(q["cpu"].values()), sum(route2["cpu"].values())
    # Route 3's processes while the others were measured: their CPU per record there times that rate.
    route1 = results[ROUTE1]
    idle = {p: route1["cpu"][p] * rate_of(route1) / 1000 for p in ("nisshi", "grade-consumer", "queue-api")}
    lines = [
        "",
        "## Route 3: accepted, then stored",
        "",
        "queue-api answers 202 once nisshi has appended the grade with `acks=all`; a consumer group of two",
        "grade-consumers stores it (a batch per poll, one multi-row INSERT, then the live view, then the offsets).",
        "**Sustained stored rate**: the highest rate offered for 10 s (open model) that was accepted in full (99%",
        "of the rate in 202s, no error) while the consumers kept up, that is while the group's lag, sampled four",
        "times a second, stayed under one second of arrivals through the run's second half; the stored rate is",
        "the rows MySQL gained per second during that run. Searched from the accepted rate down, halving the",
        "interval between the highest rate kept up with and the lowest not, each run drained before the next.",
        "",
        "| | per second | / route 2 direct | / nginx 204 |",
        "|---|---:|---:|---:|",
        f"| accepted (202s, closed model, 128 connections) | {accepted:,.0f} | {accepted / route2_rate:.2f} "
        f"| {accepted / nginx:.3f} |",
    ]
    if best:
        stored = best["stored_per_s"]
        lines.append(
            f"| **stored, sustained** (offered {best['rate']:,}/s, consumers keeping up) | {stored:,.0f} "
            f"| {stored / route2_rate:.2f} | {stored / nginx:.3f} |"
        )
    else:
        lines.append("| **stored, sustained** | not found: no rate tried was kept up with | | |")
    lines += [
        f"| stored while the closed model's load ran | {during:,.0f} | {during / route2_rate:.2f} "
        f"| {during / nginx:.3f} |",
        f"| CPU per record across the stack, accepted and stored (µs) | {q_cpu * 1000:.0f} | {q_cpu / r2_cpu:.2f} | |",
        "",
    ]
    if best and best["rate"] >= 0.99 * accepted:
        lines += [
            "The consumers kept up with the accepted rate itself: route 3's stored rate is bound by what queue-api"
            " and nisshi accept, not by the consumers.",
            "",
        ]
    lines += [
        f"When the closed model's load stopped, {q['queue']['drained']:,} records were still queued; the consumers"
        f" had stored them {q['queue']['drain_s']:.1f} s later.",
        "",
        "Route 3's part of the CPU per record: "
        + ", ".join(f"{p} {q['cpu'][p] * 1000:.0f} µs" for p in QUEUE_PROCESSES)
        + f" (the broker, nisshi, {q['cpu']['nisshi'] / max(q_cpu, 1e-9):.0%} of the stack's). Idle, while route 1"
        f" was measured, its processes still used {sum(idle.values()):.0%} of a core ("
        + ", ".join(f"{p} {v:.1%}" for p, v in idle.items())
        + "): the consumers' fetches and lag reads, and nisshi answering them. The other routes' rows in the CPU"
        " table include that.",
        "",
        "The runs at fixed arrival rates (those of the latency table, 5 s each, and the search, 10 s each):",
        "",
        "| run | offered/s | 202/s | stored rows/s meanwhile | lag peak | lag peak, second half | mean wait in the "
        "queue (Little) | drained after | kept up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    runs = [("latency", m) for m in q["rates"].values()] + [("search", m) for m in q["keep_up"]]
    for kind, m in runs:
        lines.append(
            f"| {kind} | {m['rate']:,} | {m['ok'] / m['seconds']:,.0f} | {m['stored_per_s']:,.0f} | {m['lag_peak']:,} "
            f"| {m['lag_late']:,} | {m['queued_s'] * 1000:,.0f} ms | {m['drain_s']:.1f} s | {kept_up(m)} |"
        )
    return lines
