from scripts.bench import flush_histogram, flush_table, flushes_between

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


def flushes(mean_ms: float, p99_ms: float, count: int) -> dict:
    return {"mean_ms": mean_ms, "p99_ms": p99_ms, "count": count}


def test_the_flush_table_compares_each_writer_through_the_split_with_its_route_alone():
    half = {
        "rate": 3000,
        "p99_ms": 40.0,
        "flushes": {"grpc-server": flushes(2.4, 15, 1700), "redis-api": flushes(3.5, 20, 1500)},
    }
    parts = {
        "route 1": {"rate": 1500, "p99_ms": 19.0, "flushes": {"grpc-server": flushes(1.4, 7.5, 2100)}},
        "route 2": {"rate": 1500, "p99_ms": 15.0, "flushes": {"redis-api": flushes(1.7, 7.5, 2100)}},
    }
    text = "\n".join(flush_table(half, parts))
    assert "| the split at 3,000/s | 40.0 | – | 2.4 / 15.0 (1,700) | 3.5 / 20.0 (1,500) |" in text
    assert "| route 2 alone at 1,500/s | 15.0 | – | – | 1.7 / 7.5 (2,100) |" in text
    assert "grpc-server 2.4 against 1.4 ms on average, its p99 15.0 against 7.5 ms;" in text
    assert "Both routes' transactions and summarizers share MariaDB" in text
