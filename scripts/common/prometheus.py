"""Queries to a Prometheus server's HTTP API: the load test's server-side figures and the
dashboards' check read the stack's Prometheus the same way."""

import json
import time
import urllib.request
from urllib.parse import urlencode


def query(prometheus: str, expr: str) -> list[dict]:
    """An instant query's result (`metric`, `value` per series); raises OSError (an
    HTTPError carries Prometheus' JSON explanation) when Prometheus refuses or is away."""
    url = f"{prometheus.rstrip('/')}/api/v1/query?" + urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["data"]["result"]


def wait_for_scrape(prometheus: str, since: float, seconds: float = 30) -> bool:
    """Whether Prometheus has scraped every target after `since` (each target's `up` is
    stamped with its last scrape) within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        oldest = query(prometheus, "min(timestamp(up))")
        if oldest and float(oldest[0]["value"][1]) > since:
            return True
        time.sleep(0.5)
    return False


def fresh(selector: str, since: float) -> str:
    """The series of `selector` sampled after `since`: those the processes running now export.
    Prometheus answers with a series' last sample for five minutes unless it was marked stale,
    which it cannot do when it stopped with the processes (the local stack restarted): a
    process that has not yet exported a series would otherwise count its predecessor's."""
    return f"({selector} and timestamp({selector}) > {since:.3f})"
