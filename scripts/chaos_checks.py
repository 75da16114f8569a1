"""The fault suite's checks (`just chaos`, scripts/chaos.py): what it observed after a fault,
judged. Each function takes what was read from the load, MySQL and Redis, and returns the
violations it finds (empty: none).

Apart from chaos.py because that module puts gevent into the standard library as it is
imported; these import nothing of it, so that pytest can run them (scripts/tests/).
"""

from dataclasses import dataclass


@dataclass
class Attempt:
    grade: int
    start: float
    end: float
    status: int  # 0: no answer
    route: str


@dataclass
class Grade:
    body: dict
    key: str
    id: int | None = None
    route: str | None = None
    refused: str | None = None  # why the grade was given up


def stored_violations(rows: list[tuple[int, str, bool]], grades: list[Grade]) -> list[str]:
    """Acknowledged grades missing, grades stored twice, rows without a key, grades given up;
    `rows` are every stored grade's id, `nombre` (unique per grade sent) and whether its
    Idempotency-Key was committed with it."""
    by_name: dict[str, list[int]] = {}
    for id_, nombre, _ in rows:
        by_name.setdefault(nombre, []).append(id_)
    errors = []
    missing = [g for g in grades if g.id is not None and by_name.get(g.body["nombre"], []).count(g.id) != 1]
    twice = {name: ids for name, ids in by_name.items() if len(ids) > 1}
    keyless = sum(1 for *_, keyed in rows if not keyed)
    given_up = [g for g in grades if g.refused]
    if missing:
        errors.append(
            f"{len(missing)} acknowledged grades missing, e.g. {missing[0].body['nombre']} id {missing[0].id}"
        )
    if twice:
        name, ids = next(iter(twice.items()))
        errors.append(f"{len(twice)} grades stored more than once, e.g. {name!r} as ids {ids}")
    if keyless:
        errors.append(f"{keyless} rows without their Idempotency-Key")
    if given_up:
        errors.append(f"{len(given_up)} grades given up, e.g. {given_up[0].body['nombre']}: {given_up[0].refused}")
    return errors


def live_view_violations(total: int, counts: dict[str, int], mysql_counts: dict[str, int]) -> list[str]:
    """How Redis' live view (its `total` and `counts` per course term) differs from route 2's
    rows in MySQL, counted per course term."""
    errors = []
    if total != sum(mysql_counts.values()):
        errors.append(f"total {total}, MySQL has {sum(mysql_counts.values())} route 2 rows")
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
    attempts: list[Attempt], back: float, timeout_ms: float
) -> tuple[list[str], dict[str, float | None]]:
    """The attempts answered later than `timeout_ms` or not at all, and each route's first 201
    after the store came back (seconds after `back`; None, a violation, if there was none)."""
    violations = []
    late = [a for a in attempts if a.end - a.start > timeout_ms / 1000]
    if late:
        worst = max(a.end - a.start for a in late)
        violations.append(f"{len(late)} attempts answered after REQUEST_TIMEOUT_MS (slowest {worst * 1000:.0f} ms)")
    unanswered = sum(1 for a in attempts if a.status == 0)
    if unanswered:
        violations.append(f"{unanswered} attempts got no HTTP answer")
    first_201 = {}
    for route in ("grpc", "redis"):
        ends = [a.end for a in attempts if a.status == 201 and a.route == route and a.end >= back]
        first_201[route] = min(ends) - back if ends else None
        if first_201[route] is None:
            violations.append(f"route {route}: no 201 after the recovery")
    return violations, first_201
