"""The eight faults. Each injects itself into the stack, waits for the recovery, and
returns when the store (or, for the rolling restart, the last replica) answered again:

    mariadb killed              kill -9, restarted 2 s later (InnoDB recovers its log)
    redis killed                kill -9, restarted 2 s later, empty: route 2 rebuilds the live view
    redis write stall           CLIENT PAUSE WRITE for 3 x REDIS_TIMEOUT_MS
    mariadb stopped             SIGSTOP for 2 x STORE_TIMEOUT_MS, then SIGCONT
    broker killed               kill -9 of nisshi, restarted 2 s later (its SQLite file survives)
    consumer killed mid-batch   Redis' writes paused so that the consumers' batches wait on the
                                live view (in MySQL, offsets not committed), then kill -9 of a
                                grade-consumer whose log says so; restarted only once the other
                                member has stored every grade accepted before the kill (failover)
    mariadb down while queuing  SIGTERM, restarted 10 s later: routes 1 and 2 answer 503, route 3
                                keeps answering 202, its queue grows, then drains
    rolling restart             SIGTERM and restart of each service replica in turn

CHAOS_FAULTS (comma-separated names from the list above) runs some of them only.
"""

import os
import signal
import time

import redis

from scripts.chaos.settings import (
    CONSUMERS,
    FAILOVER_WITHIN,
    KAFKA_SESSION_TIMEOUT_MS,
    QUEUE_OUTAGE,
    REDIS_TIMEOUT_MS,
    STORE_TIMEOUT_MS,
    WAITING_ON_REDIS,
)
from scripts.chaos.stack import Stack
from scripts.common.broker import GroupAssignment, unassigned
from scripts.common.stores import StoredNames


def kill_and_restart(store: str):
    def fault(stack: Stack) -> float:
        stack.supervisor.kill(store)
        time.sleep(2)
        stack.supervisor.restart(store)
        return stack.wait_ready(store, 120)

    return fault


def redis_write_stall(stack: Stack) -> float:
    pause_ms = 3 * REDIS_TIMEOUT_MS
    redis.Redis.from_url(stack.redis_url).execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    time.sleep(pause_ms / 1000)
    return time.time()


def mariadb_stopped(stack: Stack) -> float:
    stack.supervisor.signal("mariadb", signal.SIGSTOP)
    time.sleep(2 * STORE_TIMEOUT_MS / 1000)
    stack.supervisor.signal("mariadb", signal.SIGCONT)
    return stack.wait_ready("mariadb")


def consumer_killed_mid_batch(stack: Stack) -> float:
    """Redis' writes paused, so that each consumer's batch, once stored in MySQL, waits on the
    live view with its offsets uncommitted; the grade-consumer that logs such a wait first is
    killed with -9. It stays down until the other member has stored every grade accepted
    before the kill: the group must move its partitions to the survivor once its session
    has timed out, and the survivor receives the uncommitted records again. Their keys must
    store nothing twice, and the live view must count each once. Notes how long the
    partitions took to move: until the other member's /metrics say it holds them all."""
    pause_ms = 4 * REDIS_TIMEOUT_MS
    logs = {name: stack.logs / f"{name}.log" for name in CONSUMERS}
    seen = {name: log.stat().st_size for name, log in logs.items()}
    redis.Redis.from_url(stack.redis_url).execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    paused, victim = time.time(), None
    while victim is None and time.time() < paused + pause_ms / 1000 - 0.2:
        for name, log in logs.items():
            with open(log, "rb") as f:
                f.seek(seen[name])
                if WAITING_ON_REDIS in f.read():
                    victim = name
                    break
        time.sleep(0.05)
    if victim is None:
        victim = CONSUMERS[0]
        stack.fault_violations.append(
            f"no grade-consumer logged a batch waiting on the live view within {pause_ms} ms: "
            f"{victim} was killed, but not mid-batch"
        )
    stack.supervisor.kill(victim)
    killed = time.time()
    stack.notes.append(f"{victim} killed {killed - paused:.1f} s into the pause, with a stored batch uncommitted")
    accepted = {g.body["nombre"] for g in stack.load.grades if g.queued and g.acked_at is not None}
    moved, stored_at = failover(stack, accepted, killed, victim)
    session = KAFKA_SESSION_TIMEOUT_MS / 1000
    if moved is not None:
        stack.notes.append(
            f"its partitions moved to the other member {moved - killed:.1f} s after the kill (session timeout {session:.0f} s)"
        )
    if stored_at is not None:
        stack.notes.append(
            f"every grade accepted before the kill was stored {stored_at - killed:.1f} s after it, {victim} still down"
        )
    else:
        missing = len(accepted - StoredNames(stack.mysql_url).refresh())
        stack.fault_violations.append(
            f"no failover: {missing} grades accepted before the kill were not stored within {FAILOVER_WITHIN:.0f} s "
            f"while {victim} stayed down"
            + ("" if moved else f" (the other member never held {victim}'s partitions: the group kept them for it)")
        )
    stack.supervisor.restart(victim)
    return stack.wait_ready(victim, 120)


def failover(stack: Stack, accepted: set[str], killed: float, victim: str) -> tuple[float | None, float | None]:
    """Waits, FAILOVER_WITHIN seconds at most after the kill, until the members still up
    hold every partition (their /metrics) and every grade of `accepted` is stored. Returns
    when each happened (None: not in time)."""
    members = {n: stack.ready[n].replace("/readyz", "/metrics") for n in CONSUMERS if n != victim}
    assignment, stored = GroupAssignment(stack.brokers, members), StoredNames(stack.mysql_url)
    moved = stored_at = None
    try:
        partitions = assignment.partitions()
        while time.time() < killed + FAILOVER_WITHIN and (moved is None or stored_at is None):
            if moved is None and not unassigned(assignment.held(), partitions):
                moved = time.time()
            if stored_at is None and accepted <= stored.refresh():
                stored_at = time.time()
            time.sleep(0.25)
    finally:
        assignment.close()
    return moved, stored_at


def mariadb_down_while_queuing(stack: Stack) -> float:
    """MariaDB shut down (SIGTERM) and started again QUEUE_OUTAGE seconds later: routes 1 and
    2 answer 503 meanwhile, route 3 keeps accepting and its queue grows."""
    stack.supervisor.signal("mariadb", signal.SIGTERM)
    stack.supervisor.wait("mariadb", 60)
    time.sleep(QUEUE_OUTAGE)
    stack.supervisor.restart("mariadb")
    return stack.wait_ready("mariadb", 120)


def rolling_restart(stack: Stack) -> float:
    for name in [n for n in stack.ready if n.rsplit("-", 1)[-1].isdigit()]:
        stack.supervisor.signal(name, signal.SIGTERM)
        stack.supervisor.wait(name, 30)
        stack.supervisor.restart(name)
        stack.wait_ready(name)
    return time.time()


FAULTS = {
    "mariadb killed": kill_and_restart("mariadb"),
    "redis killed": kill_and_restart("redis"),
    "redis write stall": redis_write_stall,
    "mariadb stopped": mariadb_stopped,
    "broker killed": kill_and_restart("kafka"),
    "consumer killed mid-batch": consumer_killed_mid_batch,
    "mariadb down while queuing": mariadb_down_while_queuing,
    "rolling restart": rolling_restart,
}
# The faults during which route 3 must answer every grade with a 202 (accepting needs the
# broker only), with what was away.
QUEUE_KEEPS_ACCEPTING = {
    "mariadb killed": "MariaDB was killed",
    "redis killed": "Redis was killed",
    "redis write stall": "Redis' writes stalled",
    "mariadb stopped": "MariaDB was stopped",
    "consumer killed mid-batch": "a consumer was killed",
    "mariadb down while queuing": "MariaDB was down",
}

# CHAOS_FAULTS="redis killed,rolling restart" runs only those, in that order.
FAULTS_CHOSEN = [f.strip() for f in os.environ.get("CHAOS_FAULTS", ",".join(FAULTS)).split(",")]
