from scripts.bench.targets import flush_table, targets
from scripts.tests.bench import recorded
from scripts.tests.bench.recorded import SPLIT, flushes


def marks(results: dict, ceilings: dict = recorded.CEILINGS, static_us: float = 25.0) -> list[str]:
    """Each target's verdict, in the table's order; nginx's proxying costs 25 µs a request."""
    lines = targets(ceilings, results, recorded.NAIVE, recorded.LARGE, static_us, recorded.counted(), 25.0)
    rows = lines[lines.index("|---|---:|---|") + 1 :]
    return [row.rsplit("|", 2)[1].strip() for row in rows[: rows.index("")]]


def test_a_run_within_every_target_meets_them():
    # 6,000/s against nginx's 40,000/s (0.15); 150 µs a record against 30 µs a static 204 (5×);
    # p99 20 ms at half; 5,400/s against 6,000/s seeded (0.90); reports 3.4 ms; 6,500 against 900/s.
    # Against the routes alone (5,500 and 6,500/s, 140 and 120 µs, p99 at their share 19 and 15 ms): 6,000/s
    # over their harmonic mean of 5,958/s (less 25 µs of proxying: above 0.9 on any number of cores), 150 µs
    # against 130 + 25 µs, and a p99 1.05× route 1's.
    assert marks(recorded.results(), static_us=30.0) == ["met"] * 9


def test_each_target_missed_is_marked():
    results = recorded.results()
    results[SPLIT]["half"]["p99_ms"] = 25.0
    ceilings = recorded.CEILINGS | {"nginx static 204 (req/s)": 50_000.0}
    assert marks(results, ceilings, static_us=20.0) == ["**missed**"] * 3 + ["met"] * 5 + ["**missed**"]


def test_a_split_that_costs_more_than_its_routes_misses_the_splits_targets():
    results = recorded.results()
    results[SPLIT]["top"]["ok"] = 45_000  # 4,500/s against 5,958/s less the proxy's
    results[SPLIT]["cpu"] = {p: v * 1.1 for p, v in results[SPLIT]["cpu"].items()}  # 165 µs against 155
    assert marks(results, static_us=30.0)[6:] == ["**missed**", "**missed**", "met"]


def test_the_split_section_counts_each_process_per_record_of_its_own_route():
    lines = targets(recorded.CEILINGS, recorded.results(), recorded.NAIVE, recorded.LARGE, 30.0, None, 25.0)
    text = "\n".join(lines)
    # The split: 60,000 records in 10 s, 30,000 a route; grpc-client spends 150 * 0.4 / 7 µs per split
    # record, 17 µs per record of route 1. One deadlock and two lock waits per 1,000 records.
    split = "| the split, 256 connections (128 a route) | 6,000 | 30.0 | 60.0 | 60.0 | 17 | 17 | 17 | 75 | 150 |"
    assert split + " 1.00 / 2.0 |" in text
    assert "| route 2 alone, 128 connections | 6,500 | – | – | 65.0 | – | – | 7 | 60 | 120 | 1.00 / 2.0 |" in text
    assert "| the split, 128 connections (64 a route) | 5,000 | 12.5 | 25.0 | 25.0 |" in text
    assert "| both routes at once, direct, 128 connections each | 9,000 | 100.0 | 100.0 | 100.0 |" in text


def test_the_split_at_the_same_pace_is_set_against_both_routes_without_nginx():
    lines = targets(recorded.CEILINGS, recorded.results(), recorded.NAIVE, recorded.LARGE, 30.0, None, 25.0)
    text = "\n".join(lines)
    # The split at 3,000/s: 200 µs a record, nginx a tenth; both routes at 1,500/s each: 180 µs, no nginx.
    assert "| the split at 3,000/s | 20.0 | 200 | 20 | 180 | 100 | 2.4 | 3.5 |" in text
    assert "| both routes at once, direct, 1,500/s each | 18.0 | 180 | 0 | 180 | 90 | 2.2 | 3.3 |" in text
    assert "| route 2 alone at 1,500/s | 15.0 | 220 | 0 | 220 | 110 | – | 1.7 |" in text
    assert "the split costs nginx's 20 µs a record plus 180 µs, against 180 µs for both routes" in text
    assert "its p99 is 20.0 ms against 18.0." in text
    assert "route 2 alone costs 220 µs a record at 1,500/s against 120 µs at 6,500/s, its highest." in text
    assert "each route runs at half of it, 3,000/s." in text


def test_the_slower_route_beside_busy_loops_as_large_as_the_splits_extra_cpu_is_set_beside_it():
    lines = targets(recorded.CEILINGS, recorded.results(), recorded.NAIVE, recorded.LARGE, 30.0, None, 25.0)
    text = "\n".join(lines)
    # The split at 3,000/s: 0.60 cores; route 1 alone at 1,500/s: 0.36, p99 19 ms; beside 0.25 busy cores, 30 ms.
    assert (
        "| route 1 alone at 1,500/s, beside busy loops taking 0.25 cores | 30.0 | 240 | 0 | 240 | 120 | 2.0 | – |"
        in text
    )
    assert "The split's run kept 0.60 cores busy, 0.24 more than route 1 alone at its share" in text
    assert "route 1 alone had a p99 of 30.0 ms, 1.58× its 19.0 ms without them, where the split's is 1.05×" in text


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
