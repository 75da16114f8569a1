"""Runs every query of the Grafana dashboards (k8s/components/observability/dashboards/)
against a real Prometheus: `python -m scripts.checks.dashboards [PROMETHEUS_URL]`, by default the
local stack's. Each query must succeed and return at least one series, and each label its
legend names must be on a series it returns, so a panel that could not show data, or names
a label no series has, fails. `just smoke` runs it after its load test.

A dashboard tagged `cluster` reads what only a cluster exports (kube-state-metrics, the
kubelets' cAdvisor): the local stack cannot answer it, so it is skipped here and checked
offline instead, each query against those exporters' metric names and labels
(crates/deploy-checks, tests/dashboards.rs).
"""

import json
import re
import sys

from scripts.common.prometheus import query as prometheus_query
from scripts.stack import ROOT, read_env

DASHBOARDS = ROOT / "k8s" / "components" / "observability" / "dashboards"
# What Grafana's interval variables stand for here: a window that holds several of the
# local Prometheus' scrapes (every 2 s).
VARIABLES = {"$__rate_interval": "30s", "$__interval": "10s", "$__range": "5m"}
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def queries(dashboard: dict):
    """(panel title, expression, legend) of every target of every panel."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"], target.get("legendFormat", "")


def problems(prometheus: str, expr: str, legend: str) -> list[str]:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    try:
        result = prometheus_query(prometheus, expr)
    except OSError as e:
        return [f"Prometheus refused it: {getattr(e, 'read', lambda: b'')().decode() or e}"]
    if not result:
        return ["no series"]
    labels = set().union(*(series["metric"] for series in result))
    return [
        f"no series has the label {label!r} its legend names"
        for label in LEGEND_LABEL.findall(legend)
        if label not in labels
    ]


def main() -> None:
    prometheus = sys.argv[1] if len(sys.argv) > 1 else read_env()["PROMETHEUS_URL"]
    failures, count, ran, offline = [], 0, 0, []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        if "cluster" in dashboard.get("tags", []):
            offline.append(path.name)
            continue
        ran += 1
        for title, expr, legend in queries(dashboard):
            count += 1
            failures += [f"{path.name}, {title!r}: {p}\n    {expr}" for p in problems(prometheus, expr, legend)]
    if count == 0:
        sys.exit(f"dashboards: no queries found in {DASHBOARDS}")
    if failures:
        sys.exit("dashboards: panels without data:\n" + "\n".join(failures))
    skipped = (
        f" ({', '.join(offline)} {'is' if len(offline) == 1 else 'are'} checked offline by crates/deploy-checks)"
        if offline
        else ""
    )
    print(f"dashboards: all {count} queries of {ran} dashboard{'s' * (ran != 1)} returned data{skipped}")


if __name__ == "__main__":
    main()
