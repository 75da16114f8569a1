"""The fault suite's report, from a small made-up run: both tables, the end, the violations."""

from types import SimpleNamespace

from scripts.chaos.checks import Attempt, Grade
from scripts.chaos.report import Outcome, write_report


def test_the_report_has_a_row_per_fault_and_route(tmp_path):
    grades = [
        Grade({"nombre": "chaos 0"}, "run-0", id=1, route="grpc", acked_at=10.5),
        Grade({"nombre": "chaos 1"}, "run-1", queued=True, acked_at=10.6),
    ]
    attempts = [
        Attempt(0, 10.0, 10.2, 503, "grpc"),
        Attempt(0, 10.3, 10.5, 201, "grpc"),
        Attempt(1, 10.4, 10.6, 202, "queue", queued=True),
    ]
    load = SimpleNamespace(grades=grades, attempts=attempts, backlog=[(10.5, 3), (11.0, 0)])
    outcome = Outcome(
        "mariadb killed",
        10.1,
        10.25,
        range(0, 2),
        {"grpc": 0.25, "redis": None, "queue": 0.35},
        0.5,
        ["route redis: no 201 after the recovery"],
        {201: (1, 1), 202: (1, 1)},
        drained=1.5,
        queue_peak=3,
        to_stored=[0.2],
    )
    write_report(tmp_path, load, [outcome], 10.0, ([], {201: (1, 1), 202: (1, 1)}))
    report = (tmp_path / "report.md").read_text()
    assert "| mariadb killed | 1 | 1 | 1 | grpc 503 ×1 | 200 ms | 0.25 s / never | 0.50 s | 1 |" in report
    assert "| mariadb killed | 1 | 1 | 1 | none | 200 ms | 0.35 s | 3 | 1.50 s | 0.20 s / 0.20 s / 0.20 s |" in report
    assert "- mariadb killed: route redis: no 201 after the recovery" in report
    assert (tmp_path / "attempts.csv").read_text().count("\n") == 4
    assert (tmp_path / "timeline.png").stat().st_size > 0
