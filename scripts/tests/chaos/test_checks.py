"""The fault suite's checks: each finds the violation it names, and nothing when all is well."""

import pytest

from scripts.chaos.checks import (
    Attempt,
    Grade,
    Row,
    acknowledged_and_stored,
    attempt_violations,
    kept_accepting_violations,
    live_view_violations,
    queue_violations,
    stored_violations,
    summary_violations,
    times_to_stored,
)


def grade(n: int, id_: int | None = None, refused: str | None = None) -> Grade:
    return Grade({"nombre": f"chaos {n}"}, f"run-{n}", id=id_, refused=refused, acked_at=None if id_ is None else 1.0)


def queued(n: int, acked_at: float | None = 100.0) -> Grade:
    """A grade sent to route 3, answered 202 at `acked_at` (None: not acknowledged)."""
    return Grade({"nombre": f"chaos {n}"}, f"run-{n}", queued=True, acked_at=acked_at)


def row(id_: int, n: int, route: str = "redis", key: str | None = "", stored_at: float = 0.0) -> Row:
    """Grade `n`'s row; by default under its own key."""
    return Row(id_, f"chaos {n}", route, f"run-{n}" if key == "" else key, stored_at)


def test_every_acknowledged_grade_stored_once_with_its_key_passes():
    # Grade 2 was never acknowledged, and stored anyway (its answer was lost): allowed.
    grades = [grade(0, 10), grade(1, 11), grade(2)]
    rows = [row(10, 0), row(11, 1, "grpc"), row(12, 2)]
    assert stored_violations(rows, grades) == []


def test_a_missing_a_doubled_a_keyless_and_a_given_up_grade_are_each_named():
    grades = [grade(0, 10), grade(1, 11), grade(2), grade(3, refused="answered 422: b'...'")]
    rows = [row(11, 1), row(12, 2), row(13, 2, key=None)]
    assert stored_violations(rows, grades) == [
        "1 acknowledged grades missing, e.g. chaos 0 id 10",
        "1 grades stored more than once, e.g. 'chaos 2' as ids [12, 13]",
        "1 rows without their Idempotency-Key",
        "1 grades given up, e.g. chaos 3: answered 422: b'...'",
    ]


def test_an_acknowledged_id_that_is_another_grades_row_is_missing():
    assert stored_violations([row(11, 0)], [grade(0, 10)]) == ["1 acknowledged grades missing, e.g. chaos 0 id 10"]


def test_a_202_counts_as_stored_only_as_one_route_3_row_under_its_key():
    # Grade 3 got no 202 (given up on, say) and is stored nowhere: not a missing 202.
    grades = [queued(0), queued(1), queued(2), queued(3, acked_at=None)]
    rows = [row(20, 0, "queue"), row(21, 1, "queue"), row(22, 2, "queue")]
    assert stored_violations(rows, grades) == []

    for wrong in (
        [row(21, 1, "queue"), row(22, 2, "queue")],  # not stored (yet)
        [row(20, 0, "redis"), row(21, 1, "queue"), row(22, 2, "queue")],  # by another route
        [row(20, 0, "queue", key="other"), row(21, 1, "queue"), row(22, 2, "queue")],  # under another key
    ):
        (violation,) = stored_violations(wrong, grades)
        assert violation.startswith(
            "1 grades accepted with a 202 not stored once by route 3 under their key, e.g. chaos 0 (key run-0): rows"
        )

    # Redelivered and stored again: twice, whatever the keys say.
    twice = [row(20, 0, "queue"), row(21, 1, "queue"), row(22, 2, "queue"), row(23, 2, "queue", key=None)]
    assert stored_violations(twice, grades) == [
        "1 grades accepted with a 202 not stored once by route 3 under their key, e.g. chaos 2 (key run-2): "
        "rows [(22, 'queue', 'run-2'), (23, 'queue', None)]",
        "1 grades stored more than once, e.g. 'chaos 2' as ids [22, 23]",
        "1 rows without their Idempotency-Key",
    ]


def test_acknowledged_and_stored_are_counted_per_answer():
    grades = [grade(0, 10), grade(1, 11), grade(2), queued(3), queued(4), queued(5, acked_at=None)]
    rows = [row(10, 0), row(12, 2), row(13, 3, "queue"), row(14, 5, "queue")]
    # 201: grades 0 and 1, only 0 stored; 202: grades 3 and 4, only 3 stored (5 was not acknowledged).
    assert acknowledged_and_stored(rows, grades) == {201: (2, 1), 202: (2, 1)}


def test_times_to_stored_run_from_each_202_to_its_row():
    grades = [queued(0, acked_at=100.0), queued(1, acked_at=101.0), queued(2, acked_at=102.0), grade(3, 13)]
    rows = [row(10, 0, "queue", stored_at=100.5), row(11, 1, "queue", stored_at=100.999), row(13, 3, stored_at=1e9)]
    # Grade 1's row was committed a moment before its 202 reached the client: 0, not negative;
    # grade 2 is not stored yet; grade 3 is route 2's.
    assert times_to_stored(rows, grades) == [0.0, 0.5]


def test_the_live_view_must_equal_the_rows_of_routes_2_and_3():
    mysql = {"SO1:2S:2023": 3, "BD1:1S:2023": 1}
    assert live_view_violations(4, dict(mysql), mysql) == []
    assert live_view_violations(5, {"SO1:2S:2023": 4, "BD1:1S:2023": 1}, mysql) == [
        "total 5, MySQL has 4 rows of routes 2 and 3",
        "SO1:2S:2023: 4, MySQL has 3",
    ]
    # Redis lost everything (killed, not rebuilt yet).
    assert live_view_violations(0, {}, mysql) == [
        "total 0, MySQL has 4 rows of routes 2 and 3",
        "BD1:1S:2023: 0, MySQL has 1",
        "SO1:2S:2023: 0, MySQL has 3",
    ]


def test_a_summary_row_that_differs_from_the_grades_is_named():
    counted = {"2S2023SO1": (3, 1, 4), "2S2023BD1": (1, 0, 1)}
    assert summary_violations("course_term_stats", dict(counted), counted) == []
    assert summary_violations("course_term_stats", {"2S2023SO1": (3, 2, 4)}, counted) == [
        "course_term_stats: 2 rows differ from the grades, e.g. 2S2023BD1: None summarized, (1, 0, 1) counted"
    ]


def test_attempts_must_be_answered_in_time_and_each_route_must_answer_after_the_recovery():
    back = 100.0
    fine = [
        Attempt(0, 99.0, 99.1, 503, "grpc"),
        Attempt(0, 100.5, 100.6, 201, "grpc"),
        Attempt(1, 101, 103, 201, "redis"),
        Attempt(2, 100, 100.2, 202, "queue"),
    ]
    violations, first_ok = attempt_violations(fine, back, timeout_ms=5000)
    assert violations == []
    assert first_ok == {"grpc": pytest.approx(0.6), "redis": 3.0, "queue": pytest.approx(0.2)}

    late = [
        Attempt(2, 100.0, 106.5, 201, "grpc"),
        Attempt(3, 100.0, 100.1, 0, ""),
        Attempt(4, 90, 95, 201, "redis"),
        Attempt(5, 100.0, 100.1, 201, "queue"),  # route 3 acknowledges with a 202, never a 201
    ]
    violations, first_ok = attempt_violations(late, back, timeout_ms=5000)
    assert violations == [
        "1 attempts answered after REQUEST_TIMEOUT_MS (slowest 6500 ms)",
        "1 attempts got no HTTP answer",
        "route redis: no 201 after the recovery",  # its only 201 came before the store was back
        "route queue: no 202 after the recovery",
    ]
    assert first_ok == {"grpc": 6.5, "redis": None, "queue": None}


def test_route_3_must_keep_accepting_while_a_store_is_away():
    attempts = [
        Attempt(0, 9.0, 9.1, 503, "queue", queued=True),  # before the fault
        Attempt(1, 10.0, 10.1, 202, "queue", queued=True),
        Attempt(2, 11.0, 11.1, 503, "grpc"),  # routes 1 and 2 may refuse
        Attempt(3, 12.0, 12.1, 202, "queue", queued=True),
    ]
    assert kept_accepting_violations(attempts, 10.0, 12.0, "MariaDB was down") == []
    # A refusal, and an attempt nobody answered (so no route named it).
    attempts += [Attempt(4, 11.0, 14.0, 503, "queue", queued=True), Attempt(5, 11.5, 11.6, 0, "", queued=True)]
    assert kept_accepting_violations(attempts, 10.0, 12.0, "MariaDB was down") == [
        "route 3 refused 2 of 4 grades while MariaDB was down (no answer ×1, 503 ×1)"
    ]


def test_the_queue_must_drain_with_no_dead_letter():
    assert queue_violations(0, 0, 30) == []
    assert queue_violations(12, 1, 30) == [
        "the consumer group was still 12 records behind 30 s after the load stopped",
        "1 records in the dead-letter topic",
    ]
    assert queue_violations(None, 0, 30) == [
        "the broker did not tell the consumer group's lag within 30 s of the load's end"
    ]
