from scripts.bench.routes import flush_histogram, flushes_between

# As metrics-exporter-prometheus renders a histogram (a service's /metrics, trimmed).
BEFORE = """# TYPE notas_batch_flush_seconds histogram
notas_batch_flush_seconds_bucket{le="0.002"} 10
notas_batch_flush_seconds_bucket{le="0.005"} 10
notas_batch_flush_seconds_bucket{le="0.01"} 10
notas_batch_flush_seconds_bucket{le="+Inf"} 10
notas_batch_flush_seconds_sum 0.015
notas_batch_flush_seconds_count 10
notas_batch_size_sum 80
"""
AFTER = """notas_batch_flush_seconds_bucket{le="0.002"} 60
notas_batch_flush_seconds_bucket{le="0.005"} 208
notas_batch_flush_seconds_bucket{le="0.01"} 209
notas_batch_flush_seconds_bucket{le="+Inf"} 210
notas_batch_flush_seconds_sum 0.615
notas_batch_flush_seconds_count 210
"""


def test_flushes_between_two_readings_count_only_the_new_ones():
    flushes = flushes_between({"redis-api": flush_histogram(BEFORE)}, {"redis-api": flush_histogram(AFTER)})
    # 200 new flushes, 0.6 s in all; the 198th (99%) is the last within 5 ms.
    assert flushes["redis-api"]["count"] == 200
    assert abs(flushes["redis-api"]["mean_ms"] - 3.0) < 1e-9
    assert flushes["redis-api"]["p99_ms"] == 5.0


def test_a_service_that_flushed_nothing_is_left_out():
    assert flushes_between({"grpc-server": flush_histogram(BEFORE)}, {"grpc-server": flush_histogram(BEFORE)}) == {}
