"""The load generator, oha, as every phase runs it, a CPU load beside it, and the run's log
lines."""

import json
import multiprocessing
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from scripts.bench.settings import BODIES
from scripts.common.grades import random_grade


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def write_bodies(count: int = 100_000, seed: int = 2023) -> None:
    """The grades oha posts (BODIES), one JSON body per line, from a fixed seed."""
    rng = random.Random(seed)
    BODIES.write_text("".join(json.dumps(random_grade(rng)) + "\n" for _ in range(count)))


def summary_rows_in_bodies() -> int:
    """The report summaries' rows of students (student_stats) that the grades in BODIES make:
    one per student and term, one per student over every term."""
    grades = [json.loads(line) for line in BODIES.read_text().splitlines()]
    terms = {(g["carnet"], g["semestre"], g["year"]) for g in grades}
    return len(terms) + len({g["carnet"] for g in grades})


def oha(
    url: str, *, seconds: int, connections: int = 64, rate: int | None = None, post: bool = True, ok: int = 201
) -> dict:
    """One oha run; `ok` is the status that acknowledges a POST (route 3: 202)."""
    args = ["oha", "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(connections)]
    if rate:
        args += ["-q", str(rate), "--latency-correction"]
    if post:
        args += ["-m", "POST", "-H", "content-type: application/json", "-Z", str(BODIES)]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    return summary(json.loads(out), post=post, ok=ok, seconds=seconds)


def oha_at_once(urls: str | tuple[str, ...], **run) -> dict:
    """One oha run per URL, all at once with the same settings: their acknowledgements and
    errors added up, the slowest one's percentiles, and each run in "parts". One URL as a
    string: oha's run alone."""
    if isinstance(urls, str):
        return oha(urls, **run)
    with ThreadPoolExecutor(len(urls)) as pool:
        parts = list(pool.map(lambda url: oha(url, **run), urls))
    added = {key: sum(part[key] for part in parts) for key in ("rps", "ok", "in_flight", "errors")}
    slowest = {key: max(part[key] for part in parts) for key in ("p50_ms", "p99_ms")}
    codes = sum((Counter(part["codes"]) for part in parts), Counter())
    return {**parts[0], **added, **slowest, "codes": dict(codes), "parts": parts}


def summary(report: dict, *, post: bool, ok: int, seconds: int) -> dict:
    """The figures the bench keeps of oha's JSON report."""
    codes = {str(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
    totals = report["summary"]
    ok = codes.get(str(ok) if post else "204", 0)
    failures = dict(report.get("errorDistribution", {}))
    # Requests still in flight when the run's time is up are cut by oha, not failed by us.
    in_flight = failures.pop("aborted due to deadline", 0)
    pct = report.get("latencyPercentiles", {})
    return {
        "rps": totals.get("requestsPerSec") or 0.0,
        "codes": codes,
        "ok": ok,
        "in_flight": in_flight,
        "errors": sum(codes.values()) - ok + sum(failures.values()),
        "p50_ms": (pct.get("p50") or 0) * 1000,
        "p99_ms": (pct.get("p99") or 0) * 1000,
        "seconds": seconds,
    }


def spin(share: float, stop, used) -> None:
    """Busy until `stop` is set, for `share` of the time that passes: a loop preempted by the
    other processes catches up once it runs again. Then its CPU seconds into `used`."""
    began, cpu = time.monotonic(), time.process_time()
    while not stop.is_set():
        if time.process_time() - cpu >= share * (time.monotonic() - began):
            time.sleep(0.001)
    used.put(time.process_time() - cpu)


def beside_busy_load(run: Callable[[], dict], cores: float) -> tuple[dict, float]:
    """What `run` returns while busy loops, one per core, take `cores` of the machine's CPU
    between them; and the cores they took. No loop for no cores."""
    if cores <= 0:
        return run(), 0.0
    count = os.cpu_count() or 1
    share = min(cores / count, 1.0)
    stop, used = multiprocessing.Event(), multiprocessing.Queue()
    loops = [multiprocessing.Process(target=spin, args=(share, stop, used)) for _ in range(count)]
    began = time.monotonic()
    for loop in loops:
        loop.start()
    try:
        result = run()
    finally:
        stop.set()
        seconds = sum(used.get(timeout=10) for _ in loops)
        for loop in loops:
            loop.join()
    return result, seconds / (time.monotonic() - began)
