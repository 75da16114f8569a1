"""The client side of a run: what Locust's processes recorded, and its figures.

locust/locustfile.py writes every key and attempt to `ids-<pid>.csv` and each process's CPU
to `cpu-<pid>.json` in the run's folder. This module reads them back into the per-route
requests, failures, throughput and latencies, and the load generator's own CPU.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from scripts.common.metrics import nearest_rank
from scripts.loadtest.routes import LABELS, TOTAL, best

# Past this share of a core a Locust process delays its own requests.
GENERATOR_LIMIT = 0.8


@dataclass
class Client:
    """What Locust's processes recorded (`read_ids`)."""

    sent: set[str] = field(default_factory=set)  # every key sent
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # 201: key -> (route, id)
    queued: dict[str, tuple[str, float]] = field(default_factory=dict)  # 202: key -> (route, unix time read)
    given_up: set[str] = field(default_factory=set)  # never acknowledged after the last attempt
    tries: list[tuple[str, bool, float, float]] = field(default_factory=list)  # route, ok, ms, unix end

    @property
    def cut(self) -> set[str]:
        """Sent, never answered: Locust ended its user with the request in flight."""
        return self.sent - self.acked.keys() - self.queued.keys() - self.given_up


def read_ids(run: Path) -> Client:
    """From every Locust process's ids file: the keys sent, each key acknowledged as stored
    (201: its route and id) or as queued (202: its route and when Locust read the answer), the
    keys given up after their last attempt, and every attempt's route, success, latency (ms)
    and end (unix seconds)."""
    client = Client()
    for path in run.glob("ids-*.csv"):
        for line in path.read_text().splitlines():
            event, key, *rest = line.split(",")
            if event == "sent":
                client.sent.add(key)
            elif event == "try":
                client.tries.append((rest[0], rest[1] == "ok", float(rest[2]), float(rest[3])))
            elif event == "201":
                client.acked[key] = (rest[0], int(rest[1]))
            elif event == "202":
                client.queued[key] = (rest[0], float(rest[1]))
            elif event == "given-up":
                client.given_up.add(key)
    return client


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


def client_lines(stats: dict[str, dict], routes: tuple[str, ...], aim: str) -> list[str]:
    """The client side's table, the routes of the run first, and which was faster at p95."""
    lines = [
        "| route | requests | failures | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {**LABELS, "Aggregated": TOTAL[aim]}
    for route in [*routes, *sorted(set(stats) - {*routes, "Aggregated"}), "Aggregated"]:
        if route in stats:
            s = stats[route]
            lines.append(
                f"| {labels.get(route, route)} | {s['requests']} | {s['failures']} | {s['rps']:.1f} | {s['p50']:.0f} "
                f"| {s['p95']:.0f} | {s['p99']:.0f} |"
            )
    if len(routes) > 1 and all(r in stats for r in routes):
        faster = best({r: stats[r]["p95"] for r in routes})
        figures = ", ".join(f"{r} {stats[r]['p50']:.0f}/{stats[r]['p95']:.0f} ms" for r in routes)
        lines += [
            "",
            f"**{'Faster' if len(routes) == 2 else 'Fastest'} at p95 at the client: "
            f"{LABELS[faster] if faster else 'neither route' if len(routes) == 2 else 'no route alone'}** "
            f"({figures} at p50/p95)."
            + (" Route 3 answers once the grade is queued, not stored." if "queue" in routes else ""),
        ]
    return lines
