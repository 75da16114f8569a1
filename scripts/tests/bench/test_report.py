import re

from scripts.bench import chart, report
from scripts.bench.report import render, shared_note
from scripts.tests.bench import recorded

# BENCHMARKS.md's sections and the head of each table, in order, as `just bench` writes them.
SECTIONS = [
    "# Benchmarks",
    "## Ceilings of this machine",
    "| what | measured |",
    "## Highest sustained rate (closed model, 10 s, 128 connections a route)",
    "| target | 201/s (route 3: 202/s) | errors | rows MySQL gained | / nginx 204 | / MariaDB rows/s | summaries |",
    "## Latency at fixed arrival rates (open model, 5 s each)",
    "| target | rate/s | achieved/s | p50 (ms) | p99 (ms) | errors |",
    "## Route 3: accepted, then stored",
    "| | per second | / route 2 direct | / nginx 204 |",
    "| run | offered/s | 202/s | stored rows/s meanwhile | lag peak | lag peak, second half | mean wait in the queue"
    " (Little) | drained after | kept up |",
    "## CPU µs per record (during the highest-rate run, until the summaries caught up)",
    "| target | grade-consumer | grpc-client | grpc-server | mariadbd | nginx | nisshi | queue-api | redis-api"
    " | redis-server | stack | oha | / static 204 |",
    "## CPU µs per record at the load test's pace (200 records/s, 3 passes of 5 s)",
    "| route | own processes (median) | own processes, total: median (range) | / highest rate | stores (median) |",
    "## Dashboard reports with 10,000,000 grades seeded (median of 5, over HTTP)",
    "| report | ms |",
    "## Instructions per record (callgrind, a fixed mix)",
    "| route | service | instructions per record | / route 2 | each pass | spread | grades per batch"
    " | idle, instructions/s | each pass took (s) |",
    "## Targets (N cores)",
    "| target | this run | |",
    "## What the split adds",
    "| run | records/s | grades per call, grpc-client | per batch, grpc-server | per batch, redis-api"
    " | µs per own record, grpc-client | grpc-server | redis-api | mariadbd µs per record | stack µs per record"
    " | InnoDB deadlocks / lock waits per 1,000 records |",
    "| run | requests' p99 (ms) | stack µs per record | nginx | stack less nginx | mariadbd"
    " | flush, grpc-server | flush, redis-api |",
    "## Where the time goes",
    "| run | requests' p99 (ms) | grpc-client's calls to grpc-server | grpc-server's batches | redis-api's batches |",
    "## What was tried",
]


def page(counted: dict | None = None) -> str:
    r = recorded
    return render(r.CEILINGS, r.results(), r.NAIVE, r.LARGE, r.MACHINE, counted)


def test_the_page_has_every_section_and_table_in_order():
    lines = page(recorded.counted()).splitlines()
    heads = [
        re.sub(r"\(\d+ cores\)", "(N cores)", line)
        for line, below in zip(lines, lines[1:] + [""])
        if line.startswith("#") or below.startswith("|---")
    ]
    assert heads == SECTIONS


def test_each_sustained_run_has_its_row_with_its_rows_check():
    text = page(recorded.counted())
    assert "| route 3 (queue), direct | 5,000 | 0 | 50,000 = 50,000 202s + 0 cut in flight at the end | 0.12 |" in text
    assert "| route 2, one grade per transaction | 900 | 0 | 9,000 = 9,000 201s" in text
    assert "| 50/50 split (nginx), 10,000,000 grades stored | 5,400 |" in text
    assert "| 50/50 split (nginx) | 3,000 (half the highest sustained, 10 s) | 3,000 | 5.0 | 20.0 | 0 |" in text


def test_each_route_has_its_cpu_per_record_at_the_load_tests_pace_beside_the_highest_rates():
    text = page(recorded.counted())
    # Route 2: 450, 495 and 450 µs; at the highest rate redis-api has 0.4 of 120 µs over 7 processes.
    assert (
        "| route 2 (redis), direct | redis-api 450 | **450** (450 to 495) | 66× | mariadbd 500, redis-server 50 |"
        in text
    )
    assert "| route 1 (grpc), direct | grpc-client 300, grpc-server 400 | **700** (700 to 770) |" in text
    assert (
        "queue-api 400, grade-consumer 300 | **700** (700 to 770) | 20× | mariadbd 500, redis-server 50, nisshi 700 |"
        in text
    )


def test_route_3_reports_its_sustained_stored_rate_from_the_best_run_kept_up_with():
    text = page(recorded.counted())
    assert "| **stored, sustained** (offered 3,750/s, consumers keeping up) | 3,675 | 0.57 | 0.092 |" in text
    assert "| search | 5,000 | 5,000 | 2,500 | 1,250 | 10,000 | 50 ms | 0.5 s | no: the lag passed" in text


def test_the_instructions_table_has_a_row_per_service_and_one_per_route_of_two():
    text = page(recorded.counted())
    assert "| route 1 (grpc) | grpc-client | 30,300 | 0.60 | 30,000, 30,300, 30,600 | 2.0% |" in text
    assert "| route 1 (grpc) | **grpc-client + grpc-server** | **55,550** | **1.10** |" in text
    assert "| route 2 (redis) | **" not in text
    assert "route 1's services run 1.10× route 2's per record and route 3's 1.50×" in text


def test_without_valgrind_the_instructions_are_said_to_be_missing():
    text = page(None)
    assert "Not counted: valgrind is missing (apt install valgrind)." in text
    assert "In instructions (callgrind" not in text
    assert "## Targets" in text


def test_the_note_says_whether_the_machine_was_shared(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    machine = dict(recorded.MACHINE)
    assert "used 30 CPU-seconds of the 1,200 the cores had (2%)" in shared_note(machine)
    assert shared_note(machine).endswith("The machine was otherwise quiet.")
    assert "**The run shared the machine**" in shared_note(machine | {"others": 60.0})


def test_the_writer_puts_the_page_and_the_chart_at_the_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "ROOT", tmp_path)
    monkeypatch.setattr(chart, "ROOT", tmp_path)
    r = recorded
    report.write(r.CEILINGS, r.results(), r.NAIVE, r.LARGE, r.MACHINE, r.counted())
    assert (tmp_path / "BENCHMARKS.md").read_text() == capsys.readouterr().out.removesuffix("\n")
    assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
