"""Teachers registering grades: the brief's payload with random values, posted to /notas.

Each request is named in Locust's statistics by the route that answered (the
`x-notas-route` header), so Locust's own report compares route 1 (grpc) and route 2
(redis). Anything but a 201 with an id is a failure. Every grade carries an
`Idempotency-Key`, and a 503 or a lost connection is retried with the same key after a
growing pause, as a well-behaved client does: the key makes the retry store nothing twice,
even when the first attempt was committed but its answer lost.

Users are `FastHttpUser`s (geventhttpclient), several times cheaper per request than
`HttpUser`'s requests library, so that the load generator, on the same cores as the stack,
measures the routes rather than itself. With `--processes` the workers are forked after
this module is imported: whatever a process writes goes to a file of its own.

When NOTAS_RUN_DIR is set, each process writes there, for report.py:
- `ids-<pid>.csv`: `sent,KEY` before a grade's first attempt, `201,KEY,ROUTE,ID` when it is
  acknowledged, `given-up,KEY` after its last attempt; a key with only `sent` was cut at the
  stop (Locust ends users with requests in flight);
- `cpu-<pid>.json`: its CPU seconds and wall seconds from the test's start to its stop;
- `stats.json` (the master, or the only process): the final statistics per route, when
  Locust quits (its CSVs are written on a timer and can miss the last second).
"""

import json
import os
import time
import uuid

import psutil
from grades import random_grade
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import WorkerRunner

# Attempts per grade, and the first pause between them (doubled each time).
ATTEMPTS = 5
FIRST_PAUSE = 0.2

RUN_DIR = os.environ.get("NOTAS_RUN_DIR")
_ids = None  # this process's ids file, opened once the process is forked (init)
_started: tuple[float, float] | None = None  # (CPU seconds, wall clock) at the test's start


def record(*fields: str) -> None:
    if _ids:
        # One write per line, line-buffered: a line is never split or interleaved.
        _ids.write(",".join(fields) + "\n")


class Teacher(FastHttpUser):
    wait_time = between(0.1, 0.5)

    @task
    def register_grade(self) -> None:
        grade, key = random_grade(), str(uuid.uuid4())
        record("sent", key)
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(FIRST_PAUSE * 2 ** (attempt - 1))
            outcome = self.attempt(grade, key)
            if outcome != "retry":
                break
        if outcome != "done":
            record("given-up", key)  # never acknowledged: stored once at most

    def attempt(self, grade: dict, key: str) -> str:
        """One POST: `done`, `failed` (not worth retrying) or `retry` (503, no answer)."""
        headers = {"Idempotency-Key": key}
        with self.client.post("/notas", json=grade, headers=headers, name="POST /notas", catch_response=True) as response:
            # A connection error's response has no headers.
            route = (response.headers or {}).get("x-notas-route", "none")
            # Renaming before the block ends files the request under the route that answered.
            response.request_meta["name"] = f"POST /notas [{route}]"
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return "retry" if response.status_code in (0, 503) else "failed"
            try:
                record_id = int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                response.failure("201 without a numeric id")
                return "failed"
            response.success()
            record("201", key, route, str(record_id))
            return "done"


@events.init.add_listener
def open_ids(environment, **_kwargs) -> None:
    global _ids
    if RUN_DIR and not _ids:
        _ids = open(os.path.join(RUN_DIR, f"ids-{os.getpid()}.csv"), "a", buffering=1, encoding="utf-8")


@events.test_start.add_listener
def cpu_at_start(environment, **_kwargs) -> None:
    global _started
    _started = (sum(psutil.Process().cpu_times()[:2]), time.monotonic())


@events.test_stop.add_listener
def cpu_at_stop(environment, **_kwargs) -> None:
    """This process's CPU during the run: the report warns when the generator was saturated."""
    if not RUN_DIR or not _started:
        return
    cpu, wall = sum(psutil.Process().cpu_times()[:2]) - _started[0], time.monotonic() - _started[1]
    role = type(environment.runner).__name__.removesuffix("Runner").lower()
    with open(os.path.join(RUN_DIR, f"cpu-{os.getpid()}.json"), "w", encoding="utf-8") as f:
        json.dump({"pid": os.getpid(), "role": role, "cpu_seconds": cpu, "seconds": wall}, f)


@events.quitting.add_listener
def write_final_stats(environment, **_kwargs) -> None:
    # A worker's statistics are the master's, sent on and reset: the master writes them all.
    if not RUN_DIR or isinstance(environment.runner, WorkerRunner):
        return
    entries = {name: entry for (name, _method), entry in environment.stats.entries.items()}
    entries["Aggregated"] = environment.stats.total
    summary = {}
    for name, entry in entries.items():
        route = name[name.find("[") + 1 : name.find("]")] if "[" in name else name
        summary[route] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": entry.total_rps,
            "p50": entry.get_response_time_percentile(0.50),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
        }
    with open(os.path.join(RUN_DIR, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
