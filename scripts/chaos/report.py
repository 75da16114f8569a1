"""The fault suite's report: report.md with a table per route (routes 1 and 2 through the
split, route 3 through its queue), attempts.csv with every attempt, and timeline.png with
each route's answers a second, the faults and route 3's lag. Needs no gevent: the load and
the outcomes come in as data."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.chaos.checks import ACKNOWLEDGED, Attempt
from scripts.chaos.settings import (
    KAFKA_SESSION_TIMEOUT_MS,
    KAFKA_TIMEOUT_MS,
    QUEUE_RATE,
    RATE,
    REDIS_TIMEOUT_MS,
    REPLICAS,
    REQUEST_TIMEOUT_MS,
    STORE_TIMEOUT_MS,
    STORED_WITHIN,
)
from scripts.common.metrics import nearest_rank
from scripts.stack import commands

if TYPE_CHECKING:
    from scripts.chaos.load import Load


@dataclass
class Outcome:
    fault: str
    start: float
    back: float
    grades: range
    first_ok: dict[str, float | None]  # each route's first 201 (202 on route 3) after `back`
    live_caught_up: float | None
    violations: list[str]
    tally: dict[int, tuple[int, int]]  # 201 and 202: (acknowledged, stored once) of the fault's grades
    drained: float | None = None  # seconds from the load's end until every 202 was stored and the lag 0
    queue_peak: int | None = None  # the largest lag sampled from the fault until drained
    to_stored: list[float] = field(default_factory=list)  # each 202's seconds until its row
    notes: list[str] = field(default_factory=list)


def write_report(
    folder: Path, load: Load, outcomes: list[Outcome], t0: float, end: tuple[list[str], dict[int, tuple[int, int]]]
) -> None:
    with open(folder / "attempts.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["grade", "start_s", "latency_ms", "status", "route"])
        for a in load.attempts:
            out.writerow([a.grade, f"{a.start - t0:.3f}", f"{(a.end - a.start) * 1000:.1f}", a.status, a.route])

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{max(value, 0.0):.2f} s"

    def answers(attempts: list[Attempt]) -> tuple[str, str]:
        """The answers retried (other than the acknowledgement) and the slowest attempt."""
        errors = Counter((a.route or "nginx", a.status) for a in attempts if a.status != ACKNOWLEDGED.get(a.route, 201))
        retried = ", ".join(f"{who} {status or 'no answer'} ×{n}" for (who, status), n in sorted(errors.items()))
        slowest = max((a.end - a.start for a in attempts), default=0) * 1000
        return retried or "none", f"{slowest:.0f} ms"

    end_violations, end_tally = end
    lines = [
        "# Fault suite (`just chaos`)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {commands.PROFILE} builds, {REPLICAS} replicas of each route: "
        f"routes 1 and 2 behind nginx's 50/50 split, route 3 (queue-api, nisshi, a consumer group of {REPLICAS}) "
        f"behind /queue/notas. Open-model load of {RATE:.0f} grades/s to the split and {QUEUE_RATE:.0f} grades/s to "
        "route 3, each with an Idempotency-Key and retried after 502/503/504 or a lost answer. Timeouts: "
        f"STORE_TIMEOUT_MS {STORE_TIMEOUT_MS}, REDIS_TIMEOUT_MS {REDIS_TIMEOUT_MS}, REQUEST_TIMEOUT_MS "
        f"{REQUEST_TIMEOUT_MS}, KAFKA_TIMEOUT_MS {KAFKA_TIMEOUT_MS}, KAFKA_SESSION_TIMEOUT_MS {KAFKA_SESSION_TIMEOUT_MS}.",
        "",
        "Checked after each fault, over every grade sent so far: no grade acknowledged with a 201 missing; every "
        f"grade acknowledged with a 202 stored exactly once, by route 3 under its key, and the consumer group's lag "
        f"0, within {STORED_WITHIN:.0f} s once the load stopped and every grade had its answer; none stored twice, "
        "none given up, no dead letter; the live view equal to the rows of routes 2 and 3 in MySQL; the report "
        "summaries equal to the figures counted from the grades; every attempt answered within REQUEST_TIMEOUT_MS; "
        "route 3 answering only 202 while MySQL or Redis was away. The same once more at the end.",
        "",
        "## Routes 1 and 2 (the split)",
        "",
        "| fault | grades | 201 | stored once | answers retried | slowest attempt "
        "| first 201 after recovery (grpc / redis) | live view caught up after | violations |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for o in outcomes:
        grades = [n for n in o.grades if not load.grades[n].queued]
        chosen = set(grades)
        retried, slowest = answers([a for a in load.attempts if a.grade in chosen])
        acked, stored = o.tally[201]
        lines.append(
            f"| {o.fault} | {len(grades)} | {acked} | {stored} | {retried} | {slowest} "
            f"| {seconds(o.first_ok['grpc'])} / {seconds(o.first_ok['redis'])} | {seconds(o.live_caught_up)} "
            f"| {len(o.violations) or 'none'} |"
        )
    lines += [
        "",
        "## Route 3 (the queue)",
        "",
        '"queue peak" is the consumer group\'s largest lag sampled (twice a second) from the fault until the queue '
        'drained; "drained after" is the time from the end of the load (every grade answered) until every 202 so '
        "far was stored and the lag was 0; "
        "the time to stored runs from each 202 to its row's commit (MySQL's created_at).",
        "",
        "| fault | grades | 202 | stored once | answers retried | slowest attempt | first 202 after recovery "
        "| queue peak | drained after | 202 to stored p50 / p99 / max |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        grades = [n for n in o.grades if load.grades[n].queued]
        chosen = set(grades)
        retried, slowest = answers([a for a in load.attempts if a.grade in chosen])
        acked, stored = o.tally[202]
        to_stored = " / ".join(
            "-" if (v := nearest_rank(o.to_stored, q / 100)) is None else f"{v:.2f} s" for q in (50, 99, 100)
        )
        peak = "-" if o.queue_peak is None else f"{o.queue_peak:,}"
        lines.append(
            f"| {o.fault} | {len(grades)} | {acked} | {stored} | {retried} | {slowest} "
            f"| {seconds(o.first_ok['queue'])} | {peak} | {seconds(o.drained)} | {to_stored} |"
        )
    notes = [f"- {o.fault}: {n}" for o in outcomes for n in o.notes]
    if notes:
        lines += ["", *notes]
    (acked_201, stored_201), (acked_202, stored_202) = end_tally[201], end_tally[202]
    lines += [
        "",
        "## At the end",
        "",
        f"{len(load.grades):,} grades sent; {acked_201:,} answered 201, {stored_201:,} of them stored once; "
        f"{acked_202:,} answered 202, {stored_202:,} of them stored once by route 3. "
        + ("No violation." if not end_violations else f"{len(end_violations)} violations (below)."),
    ]
    violations = [f"- {o.fault}: {v}" for o in outcomes for v in o.violations]
    violations += [f"- at the end: {v}" for v in end_violations]
    lines += ["", "## Violations", "", *(violations or ["None."]), "", "![timeline](timeline.png)", ""]
    (folder / "report.md").write_text("\n".join(lines))
    plot_timeline(folder / "timeline.png", load, outcomes, t0)


def plot_timeline(path: Path, load: Load, outcomes: list[Outcome], t0: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = int(max(a.end for a in load.attempts) - t0) + 1
    fig, axes = plt.subplots(3, 1, figsize=(12, 8), sharex=True)
    for ax, route in zip(axes, ACKNOWLEDGED):
        ok, failed = [0] * end, [0] * end
        for a in load.attempts:
            if a.route == route:
                (ok if a.status == ACKNOWLEDGED[route] else failed)[int(a.end - t0)] += 1
        ax.plot(range(end), ok, label=f"{ACKNOWLEDGED[route]}/s", color="tab:green")
        ax.plot(range(end), failed, label="errors/s (retried)", color="tab:red")
        for o in outcomes:
            ax.axvspan(o.start - t0, max(o.back, o.start + 0.3) - t0, color="tab:orange", alpha=0.25)
            if ax is axes[0]:
                ax.text(o.start - t0, 1.02, o.fault, fontsize=7, rotation=15, transform=ax.get_xaxis_transform())
        ax.set_ylabel(f"route {route}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    lag = axes[-1].twinx()
    samples = [(at - t0, n) for at, n in load.backlog if n is not None and at - t0 <= end]
    lag.plot([s for s, _ in samples], [n for _, n in samples], color="tab:blue", label="lag (records)")
    lag.set_ylabel("consumer lag", color="tab:blue")
    lag.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize=8)
    axes[-1].set_xlabel("seconds (orange: fault until the store answers again)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
