"""The reconciliation: every key a run sent against what the stores gained."""

from collections import Counter

import pytest

from scripts.loadtest.client import Client
from scripts.loadtest.reconcile import Stored, pass_line, queue_lines, reconcile
from scripts.loadtest.routes import AIMS

SO1, BD1 = "SO1:2S:2023", "BD1:1S:2023"


# A run in which all went well: a and b acknowledged, c given up (yet stored: its answer was
# lost), d cut at the stop (not stored), e cut at the stop (stored).
SENT = {"a", "b", "c", "d", "e"}
ACKED = {"a": ("grpc", 1), "b": ("redis", 2)}
GIVEN_UP = {"c"}
ROWS = [(1, "grpc", SO1), (2, "redis", BD1), (3, "redis", SO1), (4, "grpc", BD1)]
KEYS = {"a": 1, "b": 2, "c": 3, "e": 4}


def stored(rows=ROWS, keys=KEYS, redis_gain=2, redis_counts=None) -> Stored:
    return Stored(rows, keys, redis_gain, {BD1: 1, SO1: 1} if redis_counts is None else redis_counts)


def client(acked=ACKED, sent=SENT, given_up=GIVEN_UP, queued=None) -> Client:
    return Client(sent=sent, acked=acked, queued=queued or {}, given_up=given_up)


def test_every_grade_stored_once_under_its_key_passes():
    lines, problems, rows = reconcile(client(), stored())
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
    lines, problems, _ = reconcile(client(), stored(rows, keys))
    assert problems == ["1 records answered 201 are not in MySQL, e.g. [1]"]
    assert "| answered but not in MySQL | 1 | 0 |" in lines


def test_a_grade_stored_twice_leaves_a_row_without_its_key():
    # Route 1 stored b's grade again without its key (the key's row belongs to id 2).
    rows = [*ROWS, (5, "grpc", BD1)]
    _, problems, rows_gained = reconcile(client(), stored(rows))
    assert problems == ["1 rows were stored without the key their grade was sent with (a grade stored twice), e.g. [5]"]
    assert rows_gained["grpc"] == 3


def test_a_key_answered_with_another_grades_id_is_a_problem():
    acked = {**ACKED, "e": ("grpc", 1)}  # e's row is 4
    _, problems, _ = reconcile(client(acked), stored())
    assert problems == [
        "1 ids were answered for more than one key",
        "1 keys were answered with an id that is not their stored grade",
    ]


def test_rows_from_elsewhere_are_foreign():
    rows = [*ROWS, (5, "redis", SO1)]
    keys = {**KEYS, "someone-else": 5}
    _, problems, _ = reconcile(client(), stored(rows, keys, 3, {BD1: 1, SO1: 2}))
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
    _, problems, _ = reconcile(client(), stored(redis_gain=gain, redis_counts=counts))
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_retry_answered_by_the_other_route_counts_where_it_was_stored():
    acked = {**ACKED, "a": ("redis", 1)}  # stored by route 1, its retry answered by route 2
    lines, problems, _ = reconcile(client(acked), stored())
    assert problems == []
    assert "| 201 answers (distinct ids) | 0 | 2 |" in lines
    assert lines[-1].startswith("\n1 retries were answered by the other route")


# Route 3 beside the others (`just loadtest ... all`): a and b stored at once by routes 1 and 2;
# q1, q2 and q3 answered 202 and stored later by the consumers.
QUEUED = {"q1": ("queue", 100.0), "q2": ("queue", 100.5), "q3": ("queue", 101.0)}
ROWS3 = [(1, "grpc", SO1), (2, "redis", BD1), (3, "queue", SO1), (4, "queue", BD1), (5, "queue", SO1)]
KEYS3 = {"a": 1, "b": 2, "q1": 3, "q2": 4, "q3": 5}
CREATED = {3: 100.2, 4: 100.9, 5: 103.0}
ALL = AIMS["all"]


def all_client(queued=QUEUED) -> Client:
    return client(sent={"a", "b", *QUEUED}, given_up=set(), queued=queued)


def all_stored(rows=ROWS3, keys=KEYS3, redis_gain=4, redis_counts=None, created=CREATED) -> Stored:
    counts = {BD1: 2, SO1: 2} if redis_counts is None else redis_counts
    return Stored(rows, keys, redis_gain, counts, created, 1.5, 3.5)


def test_every_202_stored_once_passes_with_the_three_routes():
    lines, problems, rows = reconcile(all_client(), all_stored(), ALL)
    assert problems == []
    assert rows == Counter({"grpc": 1, "redis": 1, "queue": 3})
    assert lines[:7] == [
        "| | route 1 (grpc) | route 2 (redis) | route 3 (queue) |",
        "|---|---:|---:|---:|",
        "| 201 answers (distinct ids) | 1 | 1 | n/a |",
        "| 202 answers (keys) | n/a | n/a | 3 |",
        "| rows MySQL gained | 1 | 1 | 3 |",
        "| answered but not in MySQL | 0 | 0 | 0 of the 202s |",
        "| stored, never answered (cut at the stop, given up) | 0 | 0 | 0 |",
    ]
    summary = next(line for line in lines if line.startswith("5 grades were sent"))
    assert "5 acknowledged (2 with a 201, 2 of them stored once, under their key; 3 with a 202, 3 of them" in summary
    assert lines[-1] == (
        "The live view (Redis, written by routes 2 and 3): its total grew by 4, for 1 route 2 rows and 3 route 3 rows."
    )


def test_route_3_alone_has_its_own_column_and_the_live_view_row():
    rows = [r for r in ROWS3 if r[1] == "queue"]
    keys = {k: i for k, i in KEYS3.items() if k.startswith("q")}
    lines, problems, _ = reconcile(
        client(acked={}, sent=set(QUEUED), given_up=set(), queued=QUEUED),
        all_stored(rows, keys, 3, {BD1: 1, SO1: 2}),
        AIMS["queue"],
    )
    assert problems == []
    assert lines[:6] == [
        "| | route 3 (queue) |",
        "|---|---:|",
        "| 202 answers (keys) | 3 |",
        "| rows MySQL gained | 3 |",
        "| answered but not in MySQL | 0 of the 202s |",
        "| stored, never answered (cut at the stop, given up) | 0 |",
    ]
    assert lines[6] == "| Redis total gained | 3 |"
    assert "3 acknowledged (3 with a 202, 3 of them stored once, under their key, once the queue drained)" in lines[8]


def test_a_202_not_stored_once_the_queue_drained_is_lost():
    rows, keys = ROWS3[:-1], {k: i for k, i in KEYS3.items() if k != "q3"}
    lines, problems, _ = reconcile(all_client(), all_stored(rows, keys, 3, {BD1: 2, SO1: 1}), ALL)
    assert problems == [
        "1 grades answered 202 were not stored within 4 s after the run "
        "(lost, or route 3's consumers are that far behind), e.g. ['q3']"
    ]
    assert "| answered but not in MySQL | 0 | 0 | 1 of the 202s |" in lines


def test_no_202_stored_at_all_says_the_consumers_took_no_partition():
    rows = [r for r in ROWS3 if r[1] != "queue"]
    keys = {k: i for k, i in KEYS3.items() if not k.startswith("q")}
    _, problems, _ = reconcile(all_client(), all_stored(rows, keys, 3, {BD1: 1, SO1: 1}), ALL)
    assert any(
        p.startswith("3 grades answered 202 were not stored")
        and "consumers took no partition" in p
        and "`just dev-down`, then `just dev`" in p
        and "dev-clean" not in p
        for p in problems
    ), problems


def test_a_queued_grade_stored_twice_leaves_a_row_without_its_key():
    # A redelivered record stored again: its key already has row 3.
    rows = [*ROWS3, (6, "queue", SO1)]
    _, problems, rows_gained = reconcile(
        all_client(), all_stored(rows, redis_gain=5, redis_counts={BD1: 2, SO1: 3}), ALL
    )
    assert problems == ["1 rows were stored without the key their grade was sent with (a grade stored twice), e.g. [6]"]
    assert rows_gained["queue"] == 4


@pytest.mark.parametrize(
    "gain, counts, problem",
    [
        # Only route 2's row in the total: the consumers did not update it.
        (1, {BD1: 2, SO1: 2}, "Redis total grew by 1, MySQL gained 4 routes 2 and 3 rows"),
        (4, {BD1: 1, SO1: 3}, "Redis counts differ from routes 2 and 3's MySQL rows for 2 course terms"),
    ],
)
def test_the_live_view_must_count_the_rows_of_routes_2_and_3(gain, counts, problem):
    _, problems, _ = reconcile(all_client(), all_stored(redis_gain=gain, redis_counts=counts), ALL)
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_202_whose_grade_another_route_had_stored_counts_there():
    # q1's first attempt reached route 1, which committed it but answered 503; its retry was queued.
    rows = [(1, "grpc", SO1), (2, "redis", BD1), (3, "grpc", SO1), (4, "queue", BD1), (5, "queue", SO1)]
    lines, problems, _ = reconcile(all_client(), all_stored(rows, redis_gain=3, redis_counts={BD1: 2, SO1: 1}), ALL)
    assert problems == []
    assert lines[-1].startswith("\n1 retries were answered by the other route")
    # Its time to stored is not route 3's.
    table = queue_lines(all_client(), all_stored(rows, created={4: 100.9, 5: 103.0}))
    assert table[-1].startswith("| route 3: 202 → stored row | 2 |")


def test_the_time_from_202_to_row_and_the_drain():
    lines = queue_lines(all_client(), all_stored())
    assert lines[0] == (
        "Draining: the run's last 202 was read at 00:01:41.000 UTC; the last of their rows was written 2.00 s later. "
        "The report, 60 s at most, found every 202's row after 1.5 s, then saw no new route 3 row for 2 s "
        "(3.5 s in all)."
    )
    # 0.2, 0.4 and 2.0 s: nearest rank.
    assert lines[-1] == "| route 3: 202 → stored row | 3 | 400 | 2000 | 2000 | 2000 |"
    early = queue_lines(all_client(), all_stored(created={**CREATED, 3: 99.9}))
    assert early[-1].startswith("(1 were stored before Locust read their 202")
    assert queue_lines(all_client(queued={}), all_stored()) == ["No grade was answered 202."]
    # The broker stopped answering the consumers: none came within the wait.
    lost = queue_lines(all_client(), all_stored(ROWS3[:2], {"a": 1, "b": 2}, created={}))
    assert lost == [
        "Draining: the run's last 202 was read at 00:01:41.000 UTC; none of their grades was stored by route 3. "
        "The report waited 3.5 s for the rows of every 202: 3 never came.",
        "",
    ]


def test_the_pass_line_names_what_each_aim_proved():
    assert pass_line(AIMS["split"]) == (
        "**PASS**: every 201 is one row in MySQL, none twice; every row is a grade this run sent, under its key, "
        "stored once whether it was acknowledged, given up or cut at the stop; and Redis counted every route 2 row "
        "exactly once, in its total and per course."
    )
    line = pass_line(ALL)
    assert "every 201 is one row in MySQL, none twice; every 202 is one row within 60 s of the run's end, none" in line
    assert "Redis counted every row of routes 2 and 3 exactly once" in line
    assert pass_line(AIMS["queue"]).startswith("**PASS**: every 202 is one row within 60 s of the run's end")
    assert "Redis counted every route 3 row exactly once" in pass_line(AIMS["queue"])
