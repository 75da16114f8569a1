from scripts.bench.targets import flush_table, targets
from scripts.tests.bench import recorded
from scripts.tests.bench.recorded import SPLIT, flushes


def marks(results: dict, ceilings: dict = recorded.CEILINGS, static_us: float = 25.0) -> list[str]:
    """Each target's verdict, in the table's order."""
    lines = targets(ceilings, results, recorded.NAIVE, recorded.LARGE, static_us, recorded.counted())
    rows = lines[lines.index("|---|---:|---|") + 1 :]
    return [row.rsplit("|", 2)[1].strip() for row in rows[: rows.index("")]]


def test_a_run_within_every_target_meets_them():
    # 6,000/s against nginx's 40,000/s (0.15); 150 µs a record against 30 µs a static 204 (5×);
    # p99 20 ms at half; 5,400/s against 6,000/s seeded (0.90); reports 3.4 ms; 6,500 against 900/s.
    assert marks(recorded.results(), static_us=30.0) == ["met", "met", "met", "met", "met", "met"]


def test_each_target_missed_is_marked():
    results = recorded.results()
    results[SPLIT]["half"]["p99_ms"] = 25.0
    ceilings = recorded.CEILINGS | {"nginx static 204 (req/s)": 50_000.0}
    assert marks(results, ceilings, static_us=20.0) == ["**missed**", "**missed**", "**missed**", "met", "met", "met"]


def test_a_split_with_a_row_missing_is_not_durable():
    results = recorded.results()
    results[SPLIT]["rows"] = 59_999
    assert marks(results, static_us=30.0)[0] == "**missed**"


def test_the_moonshot_is_named_when_met():
    ceilings = recorded.CEILINGS | {"nginx static 204 (req/s)": 20_000.0}
    assert marks(recorded.results(), ceilings, static_us=30.0)[0] == "met; moonshot (0.25) met"


def test_where_the_time_goes_bounds_the_rate_by_the_cores():
    lines = targets(recorded.CEILINGS, recorded.results(), recorded.NAIVE, recorded.LARGE, 30.0, None)
    text = "\n".join(lines)
    # 150 µs of the stack and 20 µs of oha a record.
    assert "At 170 µs a record," in text
    assert "In instructions (callgrind" not in text


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


def test_a_writer_faster_through_the_split_gets_no_explanation_and_no_flushes_no_table():
    half = {"rate": 3000, "p99_ms": 40.0, "flushes": {"redis-api": flushes(1.0, 5, 100)}}
    parts = {
        "route 1": {"rate": 1500, "p99_ms": 19.0, "flushes": {}},
        "route 2": {"rate": 1500, "p99_ms": 15.0, "flushes": {"redis-api": flushes(1.7, 7.5, 2100)}},
    }
    text = "\n".join(flush_table(half, parts))
    assert text.endswith("its p99 5.0 against 7.5 ms.\n")
    assert flush_table({"rate": 3000, "p99_ms": 40.0}, parts) == []
