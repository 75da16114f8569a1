import json
import os
import time

import psutil

from scripts.bench import load
from scripts.bench.load import oha_at_once, summary

# oha's JSON report, trimmed to what the bench reads.
REPORT = {
    "summary": {"requestsPerSec": 1234.5},
    "statusCodeDistribution": {"201": 12000, "503": 3},
    "errorDistribution": {"aborted due to deadline": 40, "connection closed": 2},
    "latencyPercentiles": {"p50": 0.004, "p99": 0.0255},
}


def test_cut_in_flight_is_not_an_error_but_every_other_answer_and_failure_is():
    m = summary(REPORT, post=True, ok=201, seconds=10)
    assert (m["ok"], m["in_flight"], m["errors"]) == (12000, 40, 5)
    assert (m["p50_ms"], m["p99_ms"], m["rps"], m["seconds"]) == (4.0, 25.5, 1234.5, 10)


def test_route_3_acknowledges_with_202_and_a_static_run_with_204():
    assert summary(REPORT, post=True, ok=202, seconds=10)["errors"] == 12005
    static = {"summary": {}, "statusCodeDistribution": {204: 500}}
    assert summary(static, post=False, ok=201, seconds=5) | {"codes": None} == {
        "rps": 0.0,
        "codes": None,
        "ok": 500,
        "in_flight": 0,
        "errors": 0,
        "p50_ms": 0,
        "p99_ms": 0,
        "seconds": 5,
    }


def test_runs_at_once_add_up_their_answers_and_keep_the_slowest_percentiles(monkeypatch):
    runs = {
        "http://a": summary(REPORT, post=True, ok=201, seconds=10),
        "http://b": summary(
            REPORT | {"latencyPercentiles": {"p50": 0.002, "p99": 0.04}}, post=True, ok=201, seconds=10
        ),
    }
    monkeypatch.setattr(load, "oha", lambda url, **run: runs[url])
    m = oha_at_once(("http://a", "http://b"), seconds=10, connections=128)
    assert (m["ok"], m["in_flight"], m["errors"], m["rps"]) == (24000, 80, 10, 2469.0)
    assert (m["p50_ms"], m["p99_ms"], m["seconds"]) == (4.0, 40.0, 10)
    assert m["codes"] == {"201": 24000, "503": 6}
    assert m["parts"] == list(runs.values())


def test_busy_loops_run_beside_the_run_and_stop_with_it():
    def run() -> dict:
        busy = [p for p in psutil.Process().children() if p.is_running()]
        time.sleep(0.2)
        return {"loops": len(busy)}

    result, took = load.beside_busy_load(run, 0.5)
    assert result == {"loops": os.cpu_count()}
    assert took > 0
    assert not psutil.Process().children()


def test_no_cores_no_busy_loop():
    assert load.beside_busy_load(lambda: {"loops": len(psutil.Process().children())}, 0) == ({"loops": 0}, 0.0)


def test_the_bodies_make_a_row_per_student_and_term_and_one_per_student(tmp_path, monkeypatch):
    bodies = tmp_path / "bodies.jsonl"
    grades = [(201900001, "1S", 2023), (201900001, "2S", 2023), (201900001, "1S", 2023), (201900002, "1S", 2024)]
    bodies.write_text("".join(json.dumps({"carnet": c, "semestre": s, "year": y}) + "\n" for c, s, y in grades))
    monkeypatch.setattr(load, "BODIES", bodies)
    # Three students' terms, two students.
    assert load.summary_rows_in_bodies() == 5
