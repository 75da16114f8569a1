"""The bench's fixed settings and the names of what it loads, shared by every phase."""

from scripts.stack import ROOT

STATE = ROOT / ".dev" / "bench"
# Grades as Locust posts them (scripts/common/grades.py), one JSON body per line for oha's -Z:
# a constant body would make every batch update the same summary rows.
BODIES = STATE / "bodies.jsonl"
RATES = (1000, 5000, 10000)
SECONDS_MAX = 10
# Connections of a closed-model run: each route alone has CONNECTIONS; the split has as many
# for each of its two routes, so that each writer's batches can grow as large as alone.
CONNECTIONS = 128
SPLIT_CONNECTIONS = 2 * CONNECTIONS
SECONDS_RATE = 5
SECONDS_HALF = 10  # the split at half its highest sustained rate (the latency target's run)
# The load test's pace: each route alone at the rate it gets in `LT_ROUTES=all just loadtest
# brief` (about 600 requests/s shared by the three routes), in passes, for the CPU per record a
# user sees live (docs/loadtest.md).
PACED_RATE = 200
PACED_PASSES = 3
SECONDS_PACED = 5
LARGE = 10_000_000  # grades seeded for the reports and the split's second run

ROUTE1 = "route 1 (grpc), direct"
SPLIT = "50/50 split (nginx)"
ROUTE2 = "route 2 (redis), direct"
QUEUE = "route 3 (queue), direct"
NAIVE = "route 2, one grade per transaction"
SERVICES = (
    "grpc-server",
    "grpc-client",
    "redis-api",
    "queue-api",
    "grade-consumer",
    "nisshi",
    "nginx",
    "mariadbd",
    "redis-server",
)
# Each route alone, as scripts.common.processes.ROUTE_PROCESSES names it.
ROUTE_IDS = {ROUTE1: "grpc", ROUTE2: "redis", QUEUE: "queue"}
# Route 3's processes and the broker's, and the stores they write.
QUEUE_PROCESSES = ("queue-api", "grade-consumer", "nisshi", "mariadbd", "redis-server")
SECONDS_KEEP_UP = 10
KEEP_UP_STEPS = 5  # open-model runs in the search for route 3's sustained stored rate
DRAIN_MAX = 300  # seconds route 3's consumers may take to drain what a run queued
