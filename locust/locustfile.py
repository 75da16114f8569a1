"""Teachers registering grades: the brief's payload with random values, posted through the
entry point.

Where they post is NOTAS_PATH (`just loadtest` sets it from its `routes` argument): `/notas`,
the brief's 50/50 split between routes 1 and 2 (the default), or `/queue/notas`, route 3
alone. NOTAS_SPLIT=all adds the header `x-notas-split: all`, for which the entry point (the
local stack's nginx, GKE's Gateway) splits `/notas` between the three routes, a third each.

Each request is named in Locust's statistics by the route that answered (the
`x-notas-route` header), so Locust's own report compares route 1 (grpc), route 2 (redis) and
route 3 (queue). Success is a 201 with an id (routes 1 and 2: stored), or a 202 from route 3
carrying the grade's key and its `Location` (durably queued; stored later by the consumers);
anything else is a failure. Every grade carries an `Idempotency-Key`, and a 503 or a lost
connection is retried with the same key after a growing pause, as a well-behaved client does:
the key makes the retry store nothing twice, even when the first attempt was committed (or
appended) but its answer lost.

Users are `FastHttpUser`s (geventhttpclient), several times cheaper per request than
`HttpUser`'s requests library, so that the load generator, on the same cores as the stack,
measures the routes rather than itself. With `--processes` the workers are forked after
this module is imported: whatever a process writes goes to a file of its own.

Its grades come from scripts/common/grades.py, which `just bench` and the fault suite post too:
Locust puts the current folder first on sys.path before it loads this file (Locust's
`util/load_locustfile.py`), and `just loadtest` runs from the repository root. This folder
has no `__init__.py`: `import locust` finds the library, never this folder (a folder
without one loses to a package that has one).

When NOTAS_RUN_DIR is set, each process writes there, for the report (scripts/loadtest/):
- `ids-<pid>.csv`: `sent,KEY` before a grade's first attempt; `try,KEY,ROUTE,ok|fail,MS,UNIX`
  after each attempt (its answer, its latency and when it ended); `201,KEY,ROUTE,ID` when it
  is acknowledged as stored; `202,KEY,ROUTE,UNIX` when it is acknowledged as queued (route 3),
  with the time Locust read that answer, from which the report measures the time to its row;
  `given-up,KEY` after its last attempt. A key with only `sent` was cut at the stop (Locust
  ends users with requests in flight). The report's client-side figures come from these
  lines, not from Locust's statistics, whose master misses the workers' last reports (it
  quits 0.5 s after telling them to, and they stop first);
- `cpu-<pid>.json`: its CPU seconds and wall seconds from the test's start to its stop.
"""

import json
import os
import time
import uuid

import psutil
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

from scripts.common.grades import random_grade

# Attempts per grade, and the first pause between them (doubled each time).
ATTEMPTS = 5
FIRST_PAUSE = 0.2

RUN_DIR = os.environ.get("NOTAS_RUN_DIR")
# Where the users post: the split (default), route 3 alone or the three-way split.
PATH = os.environ.get("NOTAS_PATH", "/notas")
HEADERS = {"x-notas-split": os.environ["NOTAS_SPLIT"]} if os.environ.get("NOTAS_SPLIT") else {}
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
        headers = {**HEADERS, "Idempotency-Key": key}
        with self.client.post(PATH, json=grade, headers=headers, name=f"POST {PATH}", catch_response=True) as response:
            # A connection error's response has no headers.
            route = (response.headers or {}).get("x-notas-route", "none")
            # Renaming before the block ends files the request under the route that answered.
            response.request_meta["name"] = f"POST {PATH} [{route}]"
            latency = f"{response.request_meta['response_time']:.1f}"
            ended = f"{time.time():.3f}"
            try:
                record_id = acknowledged(response, key)
            except ValueError as problem:
                response.failure(str(problem))
                record("try", key, route, "fail", latency, ended)
                return "retry" if response.status_code in (0, 503) else "failed"
            response.success()
            record("try", key, route, "ok", latency, ended)
            if record_id:
                record("201", key, route, record_id)  # stored, with its id
            else:
                record("202", key, route, ended)  # queued, and when Locust read that
            return "done"


def acknowledged(response, key: str) -> str | None:
    """The stored record's id of a 201, or None for a 202 (route 3: queued); a ValueError
    saying what is wrong with any other answer, a 201 without a numeric id, or a 202 without
    the grade's key as pending and the `Location` of its status."""
    status, text = response.status_code, (response.text or "")[:200]
    if status not in (201, 202):
        raise ValueError(f"HTTP {status}: {text}")
    try:
        body = response.json()
        if status == 201:
            return str(int(body["id"]))
        queued = body["key"] == key and body["status"] == "pending"
    except (ValueError, KeyError, TypeError):
        queued = False
    if status == 201 or not queued:
        raise ValueError(f"{status} without {'a numeric id' if status == 201 else 'its key as pending'}: {text}")
    location = (response.headers or {}).get("location")
    if location != f"/queue/notas/status/{key}":
        raise ValueError(f"202 with Location {location!r}, not /queue/notas/status/{key}")
    return None


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
