"""The fault suite's checks: each finds the violation it names, and nothing when all is well."""

import pytest

from scripts.chaos_checks import (
    Attempt,
    Grade,
    attempt_violations,
    live_view_violations,
    stored_violations,
    summary_violations,
)


def grade(n: int, id_: int | None = None, refused: str | None = None) -> Grade:
    return Grade({"nombre": f"chaos {n}"}, f"run-{n}", id=id_, refused=refused)


def test_every_acknowledged_grade_stored_once_with_its_key_passes():
    # Grade 2 was never acknowledged, and stored anyway (its answer was lost): allowed.
    grades = [grade(0, 10), grade(1, 11), grade(2)]
    rows = [(10, "chaos 0", True), (11, "chaos 1", True), (12, "chaos 2", True)]
    assert stored_violations(rows, grades) == []


def test_a_missing_a_doubled_a_keyless_and_a_given_up_grade_are_each_named():
    grades = [grade(0, 10), grade(1, 11), grade(2), grade(3, refused="answered 422: b'...'")]
    rows = [(11, "chaos 1", True), (12, "chaos 2", True), (13, "chaos 2", False)]
    assert stored_violations(rows, grades) == [
        "1 acknowledged grades missing, e.g. chaos 0 id 10",
        "1 grades stored more than once, e.g. 'chaos 2' as ids [12, 13]",
        "1 rows without their Idempotency-Key",
        "1 grades given up, e.g. chaos 3: answered 422: b'...'",
    ]


def test_an_acknowledged_id_that_is_another_grades_row_is_missing():
    assert stored_violations([(11, "chaos 0", True)], [grade(0, 10)]) == [
        "1 acknowledged grades missing, e.g. chaos 0 id 10"
    ]


def test_the_live_view_must_equal_route_2s_rows():
    mysql = {"SO1:2S:2023": 3, "BD1:1S:2023": 1}
    assert live_view_violations(4, dict(mysql), mysql) == []
    assert live_view_violations(5, {"SO1:2S:2023": 4, "BD1:1S:2023": 1}, mysql) == [
        "total 5, MySQL has 4 route 2 rows",
        "SO1:2S:2023: 4, MySQL has 3",
    ]
    # Redis lost everything (killed, not rebuilt yet).
    assert live_view_violations(0, {}, mysql) == [
        "total 0, MySQL has 4 route 2 rows",
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
    ]
    violations, first_201 = attempt_violations(fine, back, timeout_ms=5000)
    assert violations == []
    assert first_201 == {"grpc": pytest.approx(0.6), "redis": 3.0}

    late = [Attempt(2, 100.0, 106.5, 201, "grpc"), Attempt(3, 100.0, 100.1, 0, ""), Attempt(4, 90, 95, 201, "redis")]
    violations, first_201 = attempt_violations(late, back, timeout_ms=5000)
    assert violations == [
        "1 attempts answered after REQUEST_TIMEOUT_MS (slowest 6500 ms)",
        "1 attempts got no HTTP answer",
        "route redis: no 201 after the recovery",  # its only 201 came before the store was back
    ]
    assert first_201 == {"grpc": 6.5, "redis": None}
