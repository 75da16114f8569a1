"""What the fault suite reads once a fault is over and every grade has its answer: route 3's
queue drained, the live view caught up and exact, the report summaries exact, every grade
stored. The stores are read through scripts/common (stores.py, broker.py); the judging is
checks.py's."""

import time

import gevent
import redis

from scripts.chaos.checks import Row, live_view_violations, queue_violations, stored_violations, summary_violations
from scripts.chaos.load import Load
from scripts.chaos.settings import KEYS, STORED_WITHIN
from scripts.chaos.stack import Stack
from scripts.common.broker import QueueBacklog, wait_until_drained
from scripts.common.contract import PASS_MARK
from scripts.common.stores import StoredNames, live_ids, live_rows, live_view, mysql_connect, stored_rows, unapplied


def drain(stack: Stack, load: Load) -> tuple[float | None, int | None, int]:
    """Waits until every grade accepted with a 202 so far has a row, then until the consumer
    group's lag is 0, for STORED_WITHIN seconds at most in all. Returns the seconds that took
    (None: not within the bound), and the lag and dead letters read last."""
    start, stored, backlog = time.time(), StoredNames(stack.mysql_url), QueueBacklog(stack.brokers)
    accepted = lambda: {g.body["nombre"] for g in load.grades if g.queued and g.acked_at is not None}  # noqa: E731
    try:
        while not accepted() <= stored.refresh() and time.time() < start + STORED_WITHIN:
            gevent.sleep(0.25)
        drained = None
        if accepted() <= stored.names:
            waited = wait_until_drained(backlog, start + STORED_WITHIN - time.time(), pause=0.25)
            drained = None if waited is None else time.time() - start
        try:
            lag, dead_letters = backlog.read()
        except Exception:
            lag, dead_letters = None, 0
        return drained, 0 if drained is not None else lag, dead_letters
    finally:
        backlog.close()


def caught_up_after(stack: Stack, back: float) -> float | None:
    """Seconds from `back` until the live view holds every grade of routes 2 and 3 MySQL held
    at `back` (after `redis killed`, until the rebuild reached them), or None if that takes
    over a minute."""
    owed = live_ids(stack.mysql_url)
    while time.time() < back + 60:
        try:
            owed = unapplied(stack.redis_url, KEYS.prefix, owed, timeout=1)
            if not owed:
                return time.time() - back
        except redis.RedisError:
            pass
        gevent.sleep(0.05)
    return None


def live_view_errors(stack: Stack) -> list[str]:
    """How Redis' live view differs from the rows of routes 2 and 3 in MySQL (empty: exact)."""
    mysql_counts = live_rows(stack.mysql_url)
    try:
        total, counts = live_view(stack.redis_url, KEYS.prefix, timeout=2)
    except redis.RedisError as e:
        return [f"Redis: {e}"]
    return live_view_violations(total, counts, mysql_counts)


# The report summaries, and the same figures counted from the grades.
SUMMARY_RECOUNTS = {
    "course_term_stats": (
        "SELECT CONCAT(semestre, year, curso), passed, failed, students FROM course_term_stats",
        f"SELECT CONCAT(semestre, year, curso), SUM(nota >= {PASS_MARK}), SUM(nota < {PASS_MARK}), "
        "COUNT(DISTINCT carnet) FROM grades GROUP BY semestre, year, curso",
    ),
    "student_stats per term": (
        "SELECT CONCAT(semestre, year, carnet), total, grades, 0 FROM student_stats WHERE year > 0",
        "SELECT CONCAT(semestre, year, carnet), SUM(nota), COUNT(*), 0 FROM grades GROUP BY semestre, year, carnet",
    ),
    "student_stats over every term": (
        "SELECT CONCAT(carnet), total, grades, 0 FROM student_stats WHERE year = 0",
        "SELECT CONCAT(carnet), SUM(nota), COUNT(*), 0 FROM grades GROUP BY carnet",
    ),
}


def summary_errors(stack: Stack) -> list[str]:
    """How the report summaries differ from the grades, in a snapshot where the writers'
    summarizers have cleared the backlog (empty: exact, every grade summarized once).

    One snapshot for the backlog, the summaries and the recount: a grade whose request was
    answered 503 may still be committed by a writer once MySQL is back, and between separate
    reads it would be counted from the grades but not yet summarized."""
    deadline = time.time() + 30
    with mysql_connect(stack.mysql_url, autocommit=True) as db, db.cursor() as cur:
        while True:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            cur.execute("SELECT COUNT(*) FROM summary_backlog")
            (owed,) = cur.fetchone()
            if not owed:
                break
            cur.execute("COMMIT")
            if time.time() > deadline:
                return [f"{owed} batches still owed to the report summaries after 30 s"]
            time.sleep(0.2)
        errors = []
        for table, (summary, recount) in SUMMARY_RECOUNTS.items():
            figures = []
            for query in (summary, recount):
                cur.execute(query)
                figures.append({key: tuple(int(v) for v in rest) for key, *rest in cur.fetchall()})
            errors += summary_violations(table, *figures)
        cur.execute("COMMIT")
        return errors


def settled_violations(stack: Stack, load: Load) -> tuple[list[str], list[Row], float | None]:
    """Once every grade has its answer: route 3's queue drained within STORED_WITHIN, the
    live view exact, the report summaries exact, every acknowledged grade stored exactly once,
    no process dead by itself. Also returns the rows read and how long the queue took to
    drain (seconds)."""
    drained, lag, dead_letters = drain(stack, load)
    violations = queue_violations(lag, dead_letters, STORED_WITHIN)
    # Once every answer is in, the view must be exact (the last batches' updates may still
    # be on their way for a moment).
    deadline = time.time() + 30
    while (live_errors := live_view_errors(stack)) and time.time() < deadline:
        time.sleep(0.2)
    violations += [f"live view: {e}" for e in live_errors]
    violations += [f"report summaries: {e}" for e in summary_errors(stack)]
    rows = [Row(*row) for row in stored_rows(stack.mysql_url)]
    violations += stored_violations(rows, load.grades) + stack.died()
    return violations, rows, drained
