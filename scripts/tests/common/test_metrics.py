import math

import pytest

from scripts.common.metrics import Histogram, histogram, histogram_quantile, nearest_rank, samples, total

# A service's /metrics as metrics-exporter-prometheus renders it (grpc-server, trimmed).
EXPOSITION = """# TYPE notas_batch_size histogram
notas_batch_size_bucket{le="1"} 3
notas_batch_size_bucket{le="10"} 12
notas_batch_size_bucket{le="100"} 20
notas_batch_size_bucket{le="+Inf"} 20
notas_batch_size_sum 640
notas_batch_size_count 20

# TYPE notas_batch_flush_seconds histogram
notas_batch_flush_seconds_bucket{writer="grades",le="0.002"} 10
notas_batch_flush_seconds_bucket{writer="grades",le="0.005"} 18
notas_batch_flush_seconds_bucket{writer="grades",le="+Inf"} 20
notas_batch_flush_seconds_sum{writer="grades"} 0.07
notas_batch_flush_seconds_count{writer="grades"} 20
notas_batch_flush_seconds_bucket{writer="summaries",le="0.002"} 5
notas_batch_flush_seconds_bucket{writer="summaries",le="0.005"} 5
notas_batch_flush_seconds_bucket{writer="summaries",le="+Inf"} 5
notas_batch_flush_seconds_sum{writer="summaries"} 0.005
notas_batch_flush_seconds_count{writer="summaries"} 5

# HELP notas_records_total Records stored.
# TYPE notas_records_total counter
notas_records_total{route="grpc"} 640
notas_records_total{route="redis"} 2
"""


def test_a_counter_sums_its_label_sets():
    assert total(EXPOSITION, "notas_records_total") == 642
    assert total(EXPOSITION, "notas_batch_size_count") == 20
    assert total(EXPOSITION, "absent_total") == 0


def test_samples_keep_their_labels():
    routes = {s.labels["route"]: s.value for s in samples(EXPOSITION, "notas_records_total")}
    assert routes == {"grpc": 640, "redis": 2}


def test_a_histogram_sums_its_label_sets_per_bound():
    h = histogram(EXPOSITION, "notas_batch_flush_seconds")
    assert h.buckets == {0.002: 15, 0.005: 23, math.inf: 25}
    assert h.sum == pytest.approx(0.075)
    assert h.count == 25


def test_a_histogram_minus_an_earlier_reading_is_what_was_observed_since():
    later = Histogram({0.002: 20, math.inf: 30}, 0.1, 30)
    gained = later.minus(Histogram({0.002: 15, math.inf: 25}, 0.075, 25))
    assert gained.buckets == {0.002: 5, math.inf: 5}
    assert gained.count == 5 and gained.sum == pytest.approx(0.025)


# Prometheus' own test histograms (promql/promqltest/testdata/histograms.test, `testhistogram`):
# cumulative counts per upper bound; the expected values follow bucketQuantile in
# promql/quantile.go.
POSITIVE = {"0.1": 50, ".2": 70, "1e0": 110, "+Inf": 120}
NEGATIVE = {"-.2": 10, "-0.1": 20, "0.3": 20, "+Inf": 30}


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0, POSITIVE, 0.0),  # the lowest bucket starts at 0
        (0.25, POSITIVE, 0.06),
        (0.5, POSITIVE, 0.15),  # linear inside (0.1, 0.2]
        (0.75, POSITIVE, 0.6),
        (1, POSITIVE, 1.0),  # the +Inf bucket: the second highest bound
        (0, NEGATIVE, -0.2),  # a lowest bound at most 0 is returned as it is
        (0.5, NEGATIVE, -0.15),
        (0.67, NEGATIVE, 0.3),
        (1, NEGATIVE, 0.3),
    ],
)
def test_the_quantile_is_prometheus_histogram_quantile(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_out_of_range_and_undefined_quantiles():
    assert histogram_quantile(-0.1, POSITIVE) == -math.inf
    assert histogram_quantile(1.1, POSITIVE) == math.inf
    assert histogram_quantile(math.nan, POSITIVE) is None
    assert histogram_quantile(0.5, {"0.01": 0.0, "+Inf": 0.0}) is None  # no observations
    assert histogram_quantile(0.5, {"0.1": 5, "1": 10}) is None  # no +Inf bucket
    assert histogram_quantile(0.5, {"+Inf": 10}) is None  # one bucket


def test_the_quantile_takes_float_bounds_and_forces_monotonic_counts():
    assert histogram_quantile(0.5, {0.1: 50, 0.2: 70, 1.0: 110, math.inf: 120}) == pytest.approx(0.15)
    # A count read lower than the one below it is raised to it, as ensureMonotonic does.
    assert histogram_quantile(0.5, {0.1: 50, 0.2: 40, math.inf: 100}) == pytest.approx(0.1)


def test_interpolation_within_the_bucket_as_the_load_test_reported_it():
    buckets = {"0.001": 0.0, "0.005": 50.0, "0.01": 100.0, "+Inf": 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.005)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.003)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.0075)
    assert histogram_quantile(0.99, {"0.01": 10.0, "+Inf": 20.0}) == 0.01


def test_nearest_rank_is_a_measured_value():
    values = [float(v) for v in range(1, 101)]
    assert (nearest_rank(values, 0.50), nearest_rank(values, 0.99), nearest_rank(values, 1.0)) == (50.0, 99.0, 100.0)
    assert nearest_rank([3.0], 0.99) == 3.0
    assert nearest_rank([], 0.50) is None
