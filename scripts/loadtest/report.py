"""The run's report: RUN_DIR/report.md, from every phase's figures.

It reads what Locust's processes wrote (client.py), the run's aim in run.json and the
snapshot taken before the run (snapshot.py), then adds the server side (server.py), the
reconciliation (reconcile.py) and the chart (chart.py). The sections and their order are
those every earlier report has, so runs stay comparable.
"""

import json
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from scripts.loadtest.chart import draw_chart
from scripts.loadtest.client import client_lines, client_stats, generator_lines, read_ids
from scripts.loadtest.reconcile import pass_line, queue_lines, reconcile, stored_since
from scripts.loadtest.routes import AIMS, Sources
from scripts.loadtest.server import server_counters, server_lines
from scripts.stack import wait_for_summaries


def write(run: Path, before_file: Path | None, sources: Sources, strict: bool = False) -> int:
    """Writes RUN_DIR/report.md and routes.png, prints the report, and returns the exit code:
    1 when a record was lost or duplicated, the run was not reconciled, or (`strict`) any
    request failed."""
    before = json.loads(before_file.read_text()) if before_file else {"max_id": 0, "rows": {}, "redis_total": 0}
    client = read_ids(run)
    stats = client_stats(client.tries)
    meta = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    aim = meta.get("routes", "split")
    routes = AIMS[aim]
    charted = draw_chart(run)
    failures = sum(s["failures"] for r, s in stats.items() if r != "Aggregated")
    stored = None
    if sources.mysql:
        stored = stored_since(sources, before, set(client.queued) if "queue" in routes else set())
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
    if strict and failures:
        problems.append(f"{failures} requests failed")
    if sources.mysql:
        wait_for_summaries(sources.mysql)  # part of what a record costs
    server = server_lines(before.get("server", {}), server_counters(sources), rows, routes)
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
