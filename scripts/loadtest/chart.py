"""The report's chart: throughput and p95 latency per route over the run, from Locust's
full-history CSV, drawn with matplotlib into the run's folder as routes.png."""

import csv
from pathlib import Path


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
