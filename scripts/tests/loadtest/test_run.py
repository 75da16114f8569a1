"""`just loadtest`'s pure steps: the preset, the path, the target's kind, the port-forward's
port, the run's folder and run.json, and Locust's command line."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scripts.loadtest.run import (
    Load,
    Refused,
    aim,
    forwarded_port,
    load,
    locust_command,
    run_dir,
    run_json,
    where,
)


def test_each_aim_has_its_path_and_header():
    assert aim("split") == ("/notas", "")
    assert aim("queue") == ("/queue/notas", "")
    assert aim("all") == ("/notas", "all")


@pytest.mark.parametrize(
    "routes, message",
    [
        ("grpc", "routes 1 and 2 have no path of their own at the entry point"),
        ("redis", "routes 1 and 2 have no path of their own at the entry point"),
        ("both", "unknown routes 'both': split (routes 1 and 2, /notas), queue (route 3, /queue/notas) or all"),
    ],
)
def test_routes_without_a_path_are_refused(routes, message):
    with pytest.raises(Refused, match=message.replace("(", r"\(").replace(")", r"\)")):
        aim(routes)


def test_the_presets_and_their_overrides():
    assert load("smoke", {}) == Load("20", "10", "20s", "1", strict=True)
    assert load("brief", {}) == Load("200", "20", "2m", "1")
    assert load("brief", {"LT_DURATION": "30s", "LT_USERS": "", "LT_PROCESSES": "2"}) == Load("200", "20", "30s", "2")
    assert load("stress", {}, cores=4) == Load("1000", "100", "3m", "4")
    assert load("smoke", {"LT_PROCESSES": "-1"}, cores=2).processes == "2"
    with pytest.raises(Refused, match="unknown preset 'huge': smoke, brief or stress"):
        load("huge", {})


def test_the_target_is_the_local_stack_kind_or_remote():
    local = "http://127.0.0.1:8080"
    assert where("", local, "") == "local"
    assert where(local, local, "") == "local"
    assert where("http://localhost", local, "") == "kind?"
    assert where("http://127.0.0.1:18999/", "", "") == "kind?"
    # Given stores, or another host: a remote target.
    assert where("http://localhost", local, "mysql://x") == "remote"
    assert where("https://notas.example", local, "") == "remote"
    assert where("http://localhost/notas", local, "") == "remote"
    with pytest.raises(Refused, match="no local stack: run 'just dev' first, or pass target=URL"):
        where("", "", "")


def test_the_port_forward_says_its_port():
    assert forwarded_port("") is None
    assert forwarded_port("Forwarding from 127.0.0.1:40123 -> 3306\nForwarding from [::1]:40123 -> 3306\n") == 40123
    assert forwarded_port("error: unable to forward\nForwarding from [::1]:1 -> 3306\n") is None


def test_the_run_folder_and_run_json():
    now = datetime(2026, 12, 6, 21, 5, 9, tzinfo=timezone.utc)
    assert run_dir("brief", "split", now) == Path("locust/runs/20261206T210509Z-brief")
    assert run_dir("smoke", "all", now) == Path("locust/runs/20261206T210509Z-smoke-all")
    written = run_json("http://127.0.0.1:8080", "smoke", "all", "/notas", "all", load("smoke", {}))
    assert written == (
        '{"target": "http://127.0.0.1:8080", "preset": "smoke", "routes": "all", '
        '"path": "/notas (x-notas-split: all)", "users": 20, "spawn rate": 10, "duration": "20s", '
        '"Locust processes": 1}'
    )
    assert json.loads(run_json("t", "brief", "queue", "/queue/notas", "", load("brief", {})))["path"] == "/queue/notas"


def test_locust_runs_headless_with_processes_only_past_one():
    one = locust_command(Path("locust/runs/r"), "http://t", load("smoke", {}))
    assert one[:4] == [".dev/venv/bin/locust", "-f", "locust/locustfile.py", "--headless"]
    assert "--processes" not in one
    assert one[one.index("--csv") + 1] == "locust/runs/r/locust"
    two = locust_command(Path("r"), "http://t", load("smoke", {"LT_PROCESSES": "2"}))
    assert two[two.index("--processes") + 1] == "2"
