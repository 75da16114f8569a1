"""The client side of a run: what Locust's processes recorded, and its figures."""

import json

from scripts.loadtest.client import client_lines, client_stats, generator_lines, read_ids
from scripts.loadtest.routes import AIMS

ALL = AIMS["all"]


def test_the_ids_files_of_every_process_are_read(tmp_path):
    (tmp_path / "ids-1.csv").write_text(
        "sent,a\ntry,a,grpc,fail,12.5,100.0\ntry,a,redis,ok,3.0,101.0\n201,a,redis,7\nsent,b\n"
    )
    (tmp_path / "ids-2.csv").write_text(
        "sent,c\ntry,c,none,fail,5000.0,102.0\ngiven-up,c\nsent,d\ntry,d,queue,ok,4.0,103.5\n202,d,queue,103.5\n"
    )
    client = read_ids(tmp_path)
    assert client.sent == {"a", "b", "c", "d"}
    assert client.acked == {"a": ("redis", 7)}
    assert client.queued == {"d": ("queue", 103.5)}
    assert client.given_up == {"c"}
    assert client.cut == {"b"}
    assert sorted(client.tries) == [
        ("grpc", False, 12.5, 100.0),
        ("none", False, 5000.0, 102.0),
        ("queue", True, 4.0, 103.5),
        ("redis", True, 3.0, 101.0),
    ]


def test_client_figures_come_from_every_attempt():
    # The run spans 10 s, from the first attempt's end to the last's.
    tries = [("grpc", True, float(ms), 100.0 + ms / 10) for ms in range(1, 101)]
    tries += [("redis", False, 50.0, 100.0), ("redis", True, 10.0, 105.0)]
    stats = client_stats(tries)
    assert stats["grpc"] == {"requests": 100, "failures": 0, "rps": 10.0, "p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert stats["redis"]["failures"] == 1 and stats["redis"]["p50"] == 10.0
    assert stats["Aggregated"]["requests"] == 102
    assert client_stats([]) == {}


def test_a_saturated_load_generator_is_warned_about(tmp_path):
    for pid, role, cpu in [(1, "master", 2.0), (2, "worker", 27.0)]:
        (tmp_path / f"cpu-{pid}.json").write_text(
            json.dumps({"pid": pid, "role": role, "cpu_seconds": cpu, "seconds": 30.0})
        )
    lines, warnings = generator_lines(tmp_path)
    assert lines[2:] == ["| master (pid 1) | 2.0 | 30 | 7% |", "| worker (pid 2) | 27.0 | 30 | 90% |"]
    assert len(warnings) == 1 and "worker pid 2 at 90%" in warnings[0]
    assert generator_lines(tmp_path / "nothing")[1] == []


def test_the_client_side_compares_three_routes():
    tries = [("grpc", True, 30.0, 100.0), ("redis", True, 20.0, 101.0), ("queue", True, 5.0, 102.0)]
    lines = client_lines(client_stats(tries), ALL, "all")
    assert lines[2].startswith("| route 1 (grpc) | 1 | 0 |") and lines[4].startswith("| route 3 (queue) | 1 | 0 |")
    assert lines[5].startswith("| all three | 3 | 0 |")
    assert lines[-1] == (
        "**Fastest at p95 at the client: route 3 (queue)** (grpc 30/30 ms, redis 20/20 ms, queue 5/5 ms at p50/p95). "
        "Route 3 answers once the grade is queued, not stored."
    )
    # The split's line as before.
    split = client_lines(client_stats(tries[:2]), AIMS["split"], "split")
    assert split[-1] == "**Faster at p95 at the client: route 2 (redis)** (grpc 30/30 ms, redis 20/20 ms at p50/p95)."
    assert split[4].startswith("| both | 2 |")
