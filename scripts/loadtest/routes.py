"""The routes a run aims at, their labels, and where the report reads its figures from.

Every phase of the report shares these names, so they are written once here.
"""

from dataclasses import dataclass

from scripts.common.contract import KEY_PREFIX

ROUTES = ("grpc", "redis", "queue")
# What `just loadtest` aims at (run.json's `routes`): the routes that answer there.
AIMS = {"split": ("grpc", "redis"), "queue": ("queue",), "all": ROUTES}
LABELS = {"grpc": "route 1 (grpc)", "redis": "route 2 (redis)", "queue": "route 3 (queue)"}
# The label of the row that adds up every route of an aim.
TOTAL = {"split": "both", "queue": "total", "all": "all three"}


@dataclass
class Sources:
    """Where the report reads the target's figures: its MySQL and Redis (the reconciliation),
    the live view's key prefix, the Prometheus that scrapes its services, and where each
    process's CPU is read (`local`: the local stack's processes; `cadvisor`: cAdvisor's
    container counters in that Prometheus; None: nowhere)."""

    mysql: str = ""
    redis: str = ""
    prefix: str = KEY_PREFIX
    prometheus: str = ""
    cpu: str | None = None


def best(figures: dict[str, float]) -> str | None:
    """The route with the lowest figure, or None when two share it."""
    low = min(figures.values())
    return None if list(figures.values()).count(low) > 1 else min(figures, key=figures.get)
