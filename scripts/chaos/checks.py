"""The fault suite's checks: what it observed after a fault, judged. Each function takes
what was read from the load, MySQL, Redis and the broker, and returns the violations it
finds (empty: none), or the figures the report gives.

Pure functions, apart from the modules that run under gevent: they import none of it, so
that pytest can run them (scripts/tests/chaos/).
"""

from dataclasses import dataclass
from typing import NamedTuple

# Each route's answer that acknowledges a grade: routes 1 and 2 store it before they answer,
# route 3 (queue-api) once the broker has it.
ACKNOWLEDGED = {"grpc": 201, "redis": 201, "queue": 202}


@dataclass
class Attempt:
    grade: int
    start: float
    end: float
    status: int  # 0: no answer
    route: str  # its answer's x-notas-route ("" when nginx or nobody answered)
    queued: bool = False  # sent to route 3


@dataclass
class Grade:
    body: dict
    key: str
    id: int | None = None  # from its 201 (routes 1 and 2)
    route: str | None = None
    refused: str | None = None  # why the grade was given up
    queued: bool = False  # sent to route 3 (POST /queue/notas), acknowledged by a 202
    acked_at: float | None = None  # when its 201 or 202 came (unix seconds)


class Row(NamedTuple):
    """A stored grade as MySQL holds it."""

    id: int
    nombre: str  # unique per grade the suite sends
    route: str  # 'grpc', 'redis' or 'queue'
    key: str | None  # the Idempotency-Key committed with it
    stored_at: float  # created_at, unix seconds


def _by_name(rows: list[Row]) -> dict[str, list[Row]]:
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        by_name.setdefault(row.nombre, []).append(row)
    return by_name


def _stored_once(grade: Grade, by_name: dict[str, list[Row]]) -> bool:
    """Whether an acknowledged grade is stored exactly once: with its 201's id, or, for a 202,
    as the one row of its name, by route 3 under its key."""
    rows = by_name.get(grade.body["nombre"], [])
    if grade.queued:
        return len(rows) == 1 and rows[0].route == "queue" and rows[0].key == grade.key
    return [r.id for r in rows].count(grade.id) == 1


def stored_violations(rows: list[Row], grades: list[Grade]) -> list[str]:
    """Acknowledged grades missing (a 202 counts as stored only as one row of route 3 under its
    key), grades stored twice, rows without a key, grades given up; `rows` are every stored
    grade."""
    by_name = _by_name(rows)
    errors = []
    missing = [g for g in grades if g.id is not None and not g.queued and not _stored_once(g, by_name)]
    unqueued = [g for g in grades if g.queued and g.acked_at is not None and not _stored_once(g, by_name)]
    twice = {name: [r.id for r in named] for name, named in by_name.items() if len(named) > 1}
    keyless = sum(1 for r in rows if r.key is None)
    given_up = [g for g in grades if g.refused]
    if missing:
        errors.append(
            f"{len(missing)} acknowledged grades missing, e.g. {missing[0].body['nombre']} id {missing[0].id}"
        )
    if unqueued:
        g = unqueued[0]
        found = [(r.id, r.route, r.key) for r in by_name.get(g.body["nombre"], [])]
        errors.append(
            f"{len(unqueued)} grades accepted with a 202 not stored once by route 3 under their key, "
            f"e.g. {g.body['nombre']} (key {g.key}): rows {found}"
        )
    if twice:
        name, ids = next(iter(twice.items()))
        errors.append(f"{len(twice)} grades stored more than once, e.g. {name!r} as ids {ids}")
    if keyless:
        errors.append(f"{keyless} rows without their Idempotency-Key")
    if given_up:
        errors.append(f"{len(given_up)} grades given up, e.g. {given_up[0].body['nombre']}: {given_up[0].refused}")
    return errors


def acknowledged_and_stored(rows: list[Row], grades: list[Grade]) -> dict[int, tuple[int, int]]:
    """Per acknowledging answer (201, 202): how many of `grades` got it, and how many of those
    are stored exactly once."""
    by_name = _by_name(rows)
    tally = {201: [0, 0], 202: [0, 0]}
    for g in grades:
        if g.acked_at is None or (g.id is None and not g.queued):
            continue
        counts = tally[202 if g.queued else 201]
        counts[0] += 1
        counts[1] += _stored_once(g, by_name)
    return {status: (acked, stored) for status, (acked, stored) in tally.items()}


def times_to_stored(rows: list[Row], grades: list[Grade]) -> list[float]:
    """Seconds from each 202 to its row's commit, for the grades of route 3 stored so far."""
    stored_at = {r.nombre: r.stored_at for r in rows if r.route == "queue"}
    return sorted(
        max(0.0, stored_at[g.body["nombre"]] - g.acked_at)
        for g in grades
        if g.queued and g.acked_at is not None and g.body["nombre"] in stored_at
    )


def live_view_violations(total: int, counts: dict[str, int], mysql_counts: dict[str, int]) -> list[str]:
    """How Redis' live view (its `total` and `counts` per course term) differs from the rows of
    routes 2 and 3 in MySQL, counted per course term."""
    errors = []
    if total != sum(mysql_counts.values()):
        errors.append(f"total {total}, MySQL has {sum(mysql_counts.values())} rows of routes 2 and 3")
    for k in sorted(set(counts) | set(mysql_counts)):
        if counts.get(k, 0) != mysql_counts.get(k, 0):
            errors.append(f"{k}: {counts.get(k, 0)}, MySQL has {mysql_counts.get(k, 0)}")
    return errors


def summary_violations(table: str, summarized: dict[str, tuple], counted: dict[str, tuple]) -> list[str]:
    """How a report summary's rows (`summarized`, by key) differ from the same figures
    counted from the grades (`counted`)."""
    wrong = sorted(k for k in summarized.keys() | counted.keys() if summarized.get(k) != counted.get(k))
    if not wrong:
        return []
    k = wrong[0]
    return [
        f"{table}: {len(wrong)} rows differ from the grades, e.g. {k}: "
        f"{summarized.get(k)} summarized, {counted.get(k)} counted"
    ]


def attempt_violations(
    attempts: list[Attempt], back: float, timeout_ms: float, routes: tuple[str, ...] = tuple(ACKNOWLEDGED)
) -> tuple[list[str], dict[str, float | None]]:
    """The attempts answered later than `timeout_ms` or not at all, and each of `routes`' first
    acknowledgement (201, or 202 on route 3) after the store came back (seconds after `back`;
    None, a violation, if there was none)."""
    violations = []
    late = [a for a in attempts if a.end - a.start > timeout_ms / 1000]
    if late:
        worst = max(a.end - a.start for a in late)
        violations.append(f"{len(late)} attempts answered after REQUEST_TIMEOUT_MS (slowest {worst * 1000:.0f} ms)")
    unanswered = sum(1 for a in attempts if a.status == 0)
    if unanswered:
        violations.append(f"{unanswered} attempts got no HTTP answer")
    first_ok = {}
    for route in routes:
        ends = [a.end for a in attempts if a.status == ACKNOWLEDGED[route] and a.route == route and a.end >= back]
        first_ok[route] = min(ends) - back if ends else None
        if first_ok[route] is None:
            violations.append(f"route {route}: no {ACKNOWLEDGED[route]} after the recovery")
    return violations, first_ok


def kept_accepting_violations(attempts: list[Attempt], start: float, end: float, what: str) -> list[str]:
    """Route 3 must keep answering 202 whatever happens to MySQL or Redis: its attempts sent
    between `start` and `end` (the fault, `what`) that got anything else."""
    sent = [a for a in attempts if a.queued and start <= a.start <= end]
    refused: dict[int, int] = {}
    for a in sent:
        if a.status != 202:
            refused[a.status] = refused.get(a.status, 0) + 1
    if not refused:
        return []
    answers = ", ".join(f"{status or 'no answer'} ×{n}" for status, n in sorted(refused.items()))
    return [f"route 3 refused {sum(refused.values())} of {len(sent)} grades while {what} ({answers})"]


def queue_violations(lag: int | None, dead_letters: int, bound_s: float) -> list[str]:
    """Route 3's backlog once the load has stopped and `bound_s` have passed at most: the
    consumer group must have committed every record (lag 0), and no record may have become a
    dead letter (the suite sends no poison and never reuses a key with another grade)."""
    errors = []
    if lag is None:
        errors.append(f"the broker did not tell the consumer group's lag within {bound_s:.0f} s of the load's end")
    elif lag:
        errors.append(f"the consumer group was still {lag} records behind {bound_s:.0f} s after the load stopped")
    if dead_letters:
        errors.append(f"{dead_letters} records in the dead-letter topic")
    return errors
