"""Teachers registering grades: the brief's payload with random values, posted to /notas.

Each request is named in Locust's statistics by the route that answered (the
`x-notas-route` header), so Locust's own report compares route 1 (grpc) and route 2
(redis). Anything but a 201 with an id is a failure. Every grade carries an
`Idempotency-Key`, and a 503 or a lost connection is retried with the same key after a
growing pause, as a well-behaved client does: the key makes the retry store nothing twice,
even when the first attempt was committed but its answer lost. When NOTAS_IDS_FILE is set,
every 201 appends `route,id,key` to it, and every grade given up on `-,,key`, for
report.py's reconciliation against MySQL and Redis; when
NOTAS_STATS_FILE is set, the final statistics per route are written there as JSON when
Locust quits (its CSVs are written on a timer and can miss the last second).
"""

import json
import os
import time
import uuid

from grades import random_grade
from locust import HttpUser, between, events, task

# Attempts per grade, and the first pause between them (doubled each time).
ATTEMPTS = 5
FIRST_PAUSE = 0.2

_ids_path = os.environ.get("NOTAS_IDS_FILE")
_ids = open(_ids_path, "a", buffering=1, encoding="utf-8") if _ids_path else None


class Teacher(HttpUser):
    wait_time = between(0.1, 0.5)

    @task
    def register_grade(self) -> None:
        grade, key = random_grade(), str(uuid.uuid4())
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(FIRST_PAUSE * 2 ** (attempt - 1))
            outcome = self.attempt(grade, key)
            if outcome != "retry":
                break
        if outcome != "done" and _ids:
            _ids.write(f"-,,{key}\n")  # never acknowledged: stored once at most

    def attempt(self, grade: dict, key: str) -> str:
        """One POST: `done`, `failed` (not worth retrying) or `retry` (503, no answer)."""
        headers = {"Idempotency-Key": key}
        with self.client.post("/notas", json=grade, headers=headers, name="POST /notas", catch_response=True) as response:
            route = response.headers.get("x-notas-route", "none")
            # Renaming before the block ends files the request under the route that answered.
            response.request_meta["name"] = f"POST /notas [{route}]"
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return "retry" if response.status_code in (0, 503) else "failed"
            try:
                record_id = int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                response.failure("201 without a numeric id")
                return "failed"
            response.success()
            if _ids:
                _ids.write(f"{route},{record_id},{key}\n")
            return "done"


@events.quitting.add_listener
def write_final_stats(environment, **_kwargs) -> None:
    path = os.environ.get("NOTAS_STATS_FILE")
    if not path:
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
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
