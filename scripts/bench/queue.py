"""Route 3: its runs at fixed arrival rates with its consumer group's lag sampled meanwhile,
the drain after each, and the search for its highest sustained stored rate. The lag and the
drain are read through `scripts.common.broker`: "drained" means lag 0."""

import statistics
import sys
import threading
import time

from scripts.bench.load import log, oha
from scripts.bench.settings import DRAIN_MAX, KEEP_UP_STEPS, QUEUE, SECONDS_KEEP_UP
from scripts.common.broker import QueueBacklog, read_lag, wait_until_drained
from scripts.common.stores import grade_count


def drain(backlog: QueueBacklog, seconds: float = DRAIN_MAX) -> float:
    """Seconds until `backlog`'s consumer group has committed every record of its topic (lag
    0); exits if it takes longer than `seconds`."""
    drained = wait_until_drained(backlog, seconds)
    if drained is None:
        sys.exit(f"bench: the consumer group of {backlog.topic} did not drain it within {seconds:.0f} s")
    return drained


def drain_queue(brokers: str) -> float:
    """Seconds until route 3's consumer group has drained its topic (see `drain`)."""
    backlog = QueueBacklog(brokers)
    try:
        return drain(backlog)
    finally:
        backlog.close()


def queue_run(url: str, rate: int, seconds: int, mysql_url: str, brokers: str) -> dict:
    """Route 3 at a fixed arrival rate (open model): oha's figures for the 202s, and what the
    consumers did meanwhile: the rows stored per second while the load ran, the group's lag
    (sampled four times a second: its peak, its peak in the run's second half, its mean), the
    mean time a record waited (Little's law: mean lag / arrival rate), and how long the
    backlog took to drain once the load stopped. `kept_up`: see `lag_figures`."""
    samples: list[tuple[float, int | None]] = []
    stop = threading.Event()

    def watch() -> None:
        backlog = QueueBacklog(brokers)
        while not stop.is_set():
            samples.append((time.time(), read_lag(backlog)))
            stop.wait(0.25)
        backlog.close()

    rows_before = grade_count(mysql_url)
    watcher = threading.Thread(target=watch)
    watcher.start()
    began = time.time()
    m = oha(url, seconds=seconds, connections=256, rate=rate, ok=202)
    ended = time.time()
    rows_at_end = grade_count(mysql_url)
    stop.set()
    watcher.join()
    m["drain_s"] = drain_queue(brokers)
    m["stored_per_s"] = (rows_at_end - rows_before) / (ended - began)
    return lag_figures(m, samples, rate, began, ended)


def lag_figures(m: dict, samples: list[tuple[float, int | None]], rate: int, began: float, ended: float) -> dict:
    """Adds to run `m` (oha's figures at `rate`) what the lag `samples` (time, lag or None)
    taken between `began` and `ended` say. `kept_up`: accepted in full (99% of the rate, no
    error) while the lag stayed under one second of arrivals through the second half."""
    seconds = m["seconds"]
    lags = [lag for at, lag in samples if lag is not None and at <= ended]
    late = [lag for at, lag in samples if lag is not None and began + seconds / 2 <= at <= ended]
    achieved = m["ok"] / seconds
    m["lag_peak"], m["lag_late"] = max(lags, default=0), max(late, default=0)
    m["lag_mean"] = statistics.fmean(lags) if lags else 0.0
    m["queued_s"] = m["lag_mean"] / max(achieved, 1)
    m["kept_up"] = m["errors"] == 0 and achieved >= 0.99 * rate and bool(late) and m["lag_late"] <= achieved
    m["rate"] = rate
    return m


def keep_up(url: str, accepted: float, mysql_url: str, brokers: str) -> list[dict]:
    """The search for route 3's highest sustained stored rate: its accepted rate first, then
    halving the interval between the highest rate kept up with (at first 0) and the lowest
    not kept up with; KEEP_UP_STEPS runs at most, each drained before the next."""
    runs, low, high = [], 0.0, accepted
    rate = accepted
    for _ in range(KEEP_UP_STEPS):
        rate = max(10, int(round(rate, -1)))
        log(f"{QUEUE}: kept up with at {rate}/s?")
        run = queue_run(url, rate, SECONDS_KEEP_UP, mysql_url, brokers)
        runs.append(run)
        if run["kept_up"]:
            low = rate
            if rate >= accepted * 0.99:
                break
        else:
            high = rate
        rate = (low + high) / 2
    return runs
