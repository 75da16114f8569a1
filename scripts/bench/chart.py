"""benchmarks.png: each highest sustained rate against the ceilings, and each target's p99 at
fixed arrival rates with the latency target marked."""

from scripts.bench.figures import rate_of
from scripts.bench.settings import QUEUE, SPLIT
from scripts.stack import ROOT


def chart(ceilings: dict, sustained_runs: dict, results: dict) -> None:
    """Draws benchmarks.png at the repository root."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["nginx 204", "MariaDB rows", *(f"{n}: 202s" if n == QUEUE else n for n in sustained_runs)]
    values = [
        ceilings["nginx static 204 (req/s)"],
        ceilings["MariaDB durable batched INSERT (rows/s)"],
        *[rate_of(r) for r in sustained_runs.values()],
    ]
    kept = [m["stored_per_s"] for m in results[QUEUE]["keep_up"] if m["kept_up"]]
    names.insert(names.index(f"{QUEUE}: 202s") + 1, f"{QUEUE}: stored, sustained")
    values.insert(names.index(f"{QUEUE}: stored, sustained"), max(kept, default=0))
    colors = ["#999", "#999", "#1565c0", "#6a1b9a", "#2e7d32", "#ef6c00", "#ffa726", "#bf360c", "#558b2f"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    left.barh(names, values, color=colors[: len(names)])
    left.set_xscale("log")
    left.set_xlabel("per second (log scale)")
    left.set_title("Highest sustained rate vs. ceilings")
    for name, r in results.items():
        right.plot(list(r["rates"]), [m["p99_ms"] for m in r["rates"].values()], marker="o", label=name)
    half = results[SPLIT]["half"]
    right.plot([half["rate"]], [half["p99_ms"]], marker="*", markersize=14, linestyle="", color="black")
    right.annotate(
        "split at half its sustained rate", (half["rate"], half["p99_ms"]), textcoords="offset points", xytext=(8, -4)
    )
    right.axhline(25, color="#c62828", linestyle="--", linewidth=1, label="p99 target (25 ms)")
    right.set_xlabel("offered rate (requests/s)")
    right.set_ylabel("p99 latency (ms)")
    right.set_yscale("log")
    right.set_title("p99 latency at fixed arrival rates")
    right.legend()
    fig.tight_layout()
    fig.savefig(ROOT / "benchmarks.png", dpi=100)
