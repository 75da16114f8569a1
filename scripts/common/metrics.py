"""A service's /metrics, parsed with prometheus_client's text parser, one histogram
quantile with PromQL's `histogram_quantile` semantics, and one quantile of raw samples.

The quantile follows `bucketQuantile` in Prometheus' promql/quantile.go: linear
interpolation inside the bucket the rank falls in, a lower bound of 0 for the lowest
bucket unless its upper bound is at most 0, and the second highest bound when the rank
falls in the `+Inf` bucket. Every tool that reports a percentile from a histogram uses
it, so that the reports agree with a Grafana panel over the same buckets.
"""

import math
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


def fetch(url: str, timeout: float = 30) -> str:
    """A service's /metrics, the Prometheus text exposition."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def samples(text: str, name: str) -> list:
    """The samples named `name` (`notas_batch_size_count`, `x_bucket`) in an exposition,
    every label set; each has `.labels` and `.value`."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def total(text: str, name: str) -> float:
    """The sum of the samples named `name` over every label set (0: none)."""
    return sum(s.value for s in samples(text, name))


@dataclass
class Histogram:
    """A classic histogram summed over its label sets: the cumulative count at each upper
    bound (`inf` included), the sum of the observations and their count."""

    buckets: dict[float, float] = field(default_factory=dict)
    sum: float = 0.0
    count: float = 0.0

    def minus(self, earlier: "Histogram") -> "Histogram":
        """What was observed since `earlier`, a reading of the same histogram."""
        return Histogram(
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            self.sum - earlier.sum,
            self.count - earlier.count,
        )


def histogram(text: str, name: str) -> Histogram:
    """The histogram `name` (without `_bucket`) in an exposition, summed over label sets."""
    found = Histogram()
    for s in samples(text, name + "_bucket"):
        le = float(s.labels["le"])
        found.buckets[le] = found.buckets.get(le, 0.0) + s.value
    found.sum = total(text, name + "_sum")
    found.count = total(text, name + "_count")
    return found


def histogram_quantile(q: float, buckets: dict) -> float | None:
    """The q-quantile of cumulative counts per upper bound `le` (a float, or its label text
    such as "+Inf"), as PromQL's histogram_quantile computes it; None where PromQL gives
    NaN: no observations, fewer than two buckets, or no `+Inf` bucket."""
    if math.isnan(q):
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for le, n in buckets.items():
        merged[float(le)] = merged.get(float(le), 0.0) + n
    bounds = sorted(merged.items())
    if len(bounds) < 2 or not math.isinf(bounds[-1][0]):
        return None
    # Counts that fall between two readings of a live histogram are raised to the envelope.
    highest, counts = 0.0, []
    for le, n in bounds:
        highest = max(highest, n)
        counts.append((le, highest))
    observations = counts[-1][1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next((i for i, (_, n) in enumerate(counts[:-1]) if n >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return counts[-2][0]
    if b == 0 and counts[0][0] <= 0:
        return counts[0][0]
    start, below = (counts[b - 1][0], counts[b - 1][1]) if b > 0 else (0.0, 0.0)
    end, n = counts[b]
    if n == below:
        return None  # q = 0 over an empty lowest bucket: 0/0 in Prometheus, NaN
    return start + (end - start) * (rank - below) / (n - below)


def nearest_rank(ordered: list[float], q: float) -> float | None:
    """The q-quantile of sorted samples, by nearest rank: the smallest value with at least a
    share q of the samples at or below it. None when there are none. The tools' client-side
    latencies and times to stored use it: each figure is one that was measured."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]
