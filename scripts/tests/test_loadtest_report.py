"""The load test's report: what Locust's processes recorded, reconciled with what the stores
gained, and the figures it prints."""

import json
from collections import Counter

import pytest

from scripts.loadtest_report import (
    Stored,
    client_stats,
    generator_lines,
    quantile,
    read_ids,
    reconcile,
    server_lines,
)

SO1, BD1 = "SO1:2S:2023", "BD1:1S:2023"


def test_the_ids_files_of_every_process_are_read(tmp_path):
    (tmp_path / "ids-1.csv").write_text(
        "sent,a\ntry,a,grpc,fail,12.5,100.0\ntry,a,redis,ok,3.0,101.0\n201,a,redis,7\nsent,b\n"
    )
    (tmp_path / "ids-2.csv").write_text("sent,c\ntry,c,none,fail,5000.0,102.0\ngiven-up,c\n")
    sent, acked, given_up, tries = read_ids(tmp_path)
    assert sent == {"a", "b", "c"}
    assert acked == {"a": ("redis", 7)}
    assert given_up == {"c"}
    assert sorted(tries) == [("grpc", False, 12.5, 100.0), ("none", False, 5000.0, 102.0), ("redis", True, 3.0, 101.0)]


# A run in which all went well: a and b acknowledged, c given up (yet stored: its answer was
# lost), d cut at the stop (not stored), e cut at the stop (stored).
SENT = {"a", "b", "c", "d", "e"}
ACKED = {"a": ("grpc", 1), "b": ("redis", 2)}
GIVEN_UP = {"c"}
ROWS = [(1, "grpc", SO1), (2, "redis", BD1), (3, "redis", SO1), (4, "grpc", BD1)]
KEYS = {"a": 1, "b": 2, "c": 3, "e": 4}


def stored(rows=ROWS, keys=KEYS, redis_gain=2, redis_counts=None) -> Stored:
    return Stored(rows, keys, redis_gain, {BD1: 1, SO1: 1} if redis_counts is None else redis_counts)


def test_every_grade_stored_once_under_its_key_passes():
    lines, problems, rows = reconcile(SENT, ACKED, GIVEN_UP, stored())
    assert problems == []
    assert rows == Counter({"grpc": 2, "redis": 2})
    assert "| 201 answers (distinct ids) | 1 | 1 |" in lines
    assert "| stored, never answered (cut at the stop, given up) | 1 | 1 |" in lines
    summary = lines[-1]
    assert summary.startswith("5 grades were sent, each with its `Idempotency-Key`: 2 acknowledged (2 stored once")
    assert "1 given up after retries (1 of them stored, once)" in summary
    assert "**2 cut at the stop**" in summary and "1 of them stored, once." in summary


def test_an_acknowledged_grade_missing_from_mysql_is_lost():
    rows = [r for r in ROWS if r[0] != 1]
    keys = {k: i for k, i in KEYS.items() if i != 1}
    lines, problems, _ = reconcile(SENT, ACKED, GIVEN_UP, stored(rows, keys))
    assert problems == ["1 records answered 201 are not in MySQL, e.g. [1]"]
    assert "| answered but not in MySQL | 1 | 0 |" in lines


def test_a_grade_stored_twice_leaves_a_row_without_its_key():
    # Route 1 stored b's grade again without its key (the key's row belongs to id 2).
    rows = [*ROWS, (5, "grpc", BD1)]
    _, problems, rows_gained = reconcile(SENT, ACKED, GIVEN_UP, stored(rows))
    assert problems == ["1 rows were stored without the key their grade was sent with (a grade stored twice), e.g. [5]"]
    assert rows_gained["grpc"] == 3


def test_a_key_answered_with_another_grades_id_is_a_problem():
    acked = {**ACKED, "e": ("grpc", 1)}  # e's row is 4
    _, problems, _ = reconcile(SENT, acked, GIVEN_UP, stored())
    assert problems == [
        "1 ids were answered for more than one key",
        "1 keys were answered with an id that is not their stored grade",
    ]


def test_rows_from_elsewhere_are_foreign():
    rows = [*ROWS, (5, "redis", SO1)]
    keys = {**KEYS, "someone-else": 5}
    _, problems, _ = reconcile(SENT, ACKED, GIVEN_UP, stored(rows, keys, 3, {BD1: 1, SO1: 2}))
    assert problems == ["1 rows carry a key this run never sent, e.g. ['someone-else']"]


@pytest.mark.parametrize(
    "gain, counts, problem",
    [
        (1, {BD1: 1, SO1: 1}, "Redis total grew by 1, MySQL gained 2 route 2 rows"),
        (2, {BD1: 2}, "Redis counts differ from route 2's MySQL rows for 2 course terms, e.g. ['BD1:1S:2023', "),
        (2, {BD1: 1, SO1: 1, "SA:1S:2023": 1}, "Redis counts differ from route 2's MySQL rows for 1 course terms"),
    ],
)
def test_the_live_view_must_count_every_route_2_row_once(gain, counts, problem):
    _, problems, _ = reconcile(SENT, ACKED, GIVEN_UP, stored(redis_gain=gain, redis_counts=counts))
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_retry_answered_by_the_other_route_counts_where_it_was_stored():
    acked = {**ACKED, "a": ("redis", 1)}  # stored by route 1, its retry answered by route 2
    lines, problems, _ = reconcile(SENT, acked, GIVEN_UP, stored())
    assert problems == []
    assert "| 201 answers (distinct ids) | 0 | 2 |" in lines
    assert lines[-1].startswith("\n1 retries were answered by the other route")


def test_client_figures_come_from_every_attempt():
    # The run spans 10 s, from the first attempt's end to the last's.
    tries = [("grpc", True, float(ms), 100.0 + ms / 10) for ms in range(1, 101)]
    tries += [("redis", False, 50.0, 100.0), ("redis", True, 10.0, 105.0)]
    stats = client_stats(tries)
    assert stats["grpc"] == {"requests": 100, "failures": 0, "rps": 10.0, "p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert stats["redis"]["failures"] == 1 and stats["redis"]["p50"] == 10.0
    assert stats["Aggregated"]["requests"] == 102
    assert client_stats([]) == {}


def test_quantiles_are_interpolated_within_buckets_as_histogram_quantile():
    buckets = {"0.001": 0.0, "0.005": 50.0, "0.01": 100.0, "+Inf": 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.005)
    assert quantile(0.25, buckets) == pytest.approx(0.003)
    assert quantile(0.75, buckets) == pytest.approx(0.0075)
    # Past the highest finite bound: that bound.
    assert quantile(0.99, {"0.01": 10.0, "+Inf": 20.0}) == 0.01
    assert quantile(0.5, {"0.01": 0.0, "+Inf": 0.0}) is None


def test_the_cpu_per_record_divides_each_routes_processes_by_its_rows():
    before = {"cpu": {"grpc-client": 1.0, "grpc-server": 1.0, "redis-api": 1.0, "redis": 0.0, "mysql": 0.0}}
    after = {
        "cpu": {"grpc-client": 2.0, "grpc-server": 1.5, "redis-api": 1.5, "redis": 0.5, "mysql": 4.0},
        "cpu_source": "a test",
        "latency_problem": "no Prometheus URL given",
    }
    lines = server_lines(before, after, Counter({"grpc": 1000, "redis": 2000}))
    assert "Not measured: no Prometheus URL given." in lines
    assert "| route 1 (grpc) | 1000 | grpc-client 1,000, grpc-server 500 | 1,500 |" in lines
    assert "| route 2 (redis) | 2000 | redis-api 250, redis 250 | 500 |" in lines
    assert "| shared | 3000 | mysql 1,333 | 1,333 |" in lines
    assert any(line.startswith("**Cheaper per record: route 2 (redis)**") for line in lines)
    assert lines[-1] == "Not counted (not among the measured processes): nginx."


def test_a_saturated_load_generator_is_warned_about(tmp_path):
    for pid, role, cpu in [(1, "master", 2.0), (2, "worker", 27.0)]:
        (tmp_path / f"cpu-{pid}.json").write_text(
            json.dumps({"pid": pid, "role": role, "cpu_seconds": cpu, "seconds": 30.0})
        )
    lines, warnings = generator_lines(tmp_path)
    assert lines[2:] == ["| master (pid 1) | 2.0 | 30 | 7% |", "| worker (pid 2) | 27.0 | 30 | 90% |"]
    assert len(warnings) == 1 and "worker pid 2 at 90%" in warnings[0]
    assert generator_lines(tmp_path / "nothing")[1] == []
