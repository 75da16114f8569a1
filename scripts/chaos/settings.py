"""The fault suite's settings: its load, the services' timeouts (their defaults, set
explicitly so that the report can name them), and the bounds its checks hold them to.
CHAOS_RATE, CHAOS_QUEUE_RATE and CHAOS_FAULTS come from the environment."""

import os

from scripts.common.contract import DEFAULTS, LiveKeys

# Grades a second to the split (default 150) and to route 3 (default half of it).
RATE = float(os.environ.get("CHAOS_RATE", "150"))
QUEUE_RATE = float(os.environ.get("CHAOS_QUEUE_RATE", str(RATE / 2)))
# Load before each fault, and after the store is back.
LEAD, TAIL = 3.0, 4.0
STORE_TIMEOUT_MS, REDIS_TIMEOUT_MS, REQUEST_TIMEOUT_MS = (
    DEFAULTS[name] for name in ("STORE_TIMEOUT_MS", "REDIS_TIMEOUT_MS", "REQUEST_TIMEOUT_MS")
)
# Route 3's: queue-api's wait for the broker's acknowledgement, and how long a silent consumer
# keeps its partitions (both their defaults).
KAFKA_TIMEOUT_MS, KAFKA_SESSION_TIMEOUT_MS = 3000, 10_000
# A killed consumer's partitions move to the other member once its session has timed out:
# every grade accepted before the kill must be stored within this many seconds of it, while
# the killed one stays down.
FAILOVER_WITHIN = KAFKA_SESSION_TIMEOUT_MS / 1000 + 20
# Every 202 stored once, and the consumer group's lag 0, within this many seconds once the
# load has stopped and every grade has its answer: a killed member's partitions wait for its
# session to time out, then the backlog drains.
STORED_WITHIN = 30.0
# How long MariaDB stays down while route 3 keeps accepting.
QUEUE_OUTAGE = 10.0
# The services run with the default key prefix.
KEYS = LiveKeys()
# A grade is given up this long after its first attempt.
GIVE_UP_AFTER = 60.0
RETRYABLE = {0, 502, 503, 504}  # 0: no answer (connection lost or timed out)
REPLICAS = 2
CONSUMERS = [f"grade-consumer-{i + 1}" for i in range(REPLICAS)]
# What a grade-consumer logs while a batch it stored in MySQL waits on the live view.
WAITING_ON_REDIS = b"Redis failed"
