"""The reconciliation: every key a run sent against the rows MySQL gained and what Redis
counted.

An acknowledged grade is its row: route 3's once its consumers have drained the queue,
within DRAIN_LIMIT seconds. A grade given up or cut at the stop is stored once at most. No
row comes from elsewhere, and the live view counts each row of routes 2 and 3 once.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from scripts.common.metrics import nearest_rank
from scripts.common.stores import live_counts as redis_counts
from scripts.common.stores import live_total as redis_total
from scripts.common.stores import rows_after, wait_for_queued_rows
from scripts.loadtest.client import Client
from scripts.loadtest.routes import AIMS, LABELS, Sources

# How long after the run the report waits for route 3's consumers to store every grade
# answered 202, and then for no new route 3 row (the grades cut at the stop may be queued).
DRAIN_LIMIT = 60.0
QUIET = 2.0


@dataclass
class Stored:
    """What the stores gained during the run (`stored_since`)."""

    rows: list[tuple[int, str, str]]  # each new row's id, route and course term (`count_field`)
    keys: dict[str, int]  # the Idempotency-Keys committed with them: key -> grade id
    redis_gain: int  # how much the live view's total grew
    redis_counts: dict[str, int]  # how much each course term's live count grew (those that did)
    created: dict[int, float] = field(default_factory=dict)  # route 3 rows: id -> unix time of its INSERT
    # Seconds the report waited for route 3's queue (`wait_for_queued_rows`): until it had found every
    # 202's row, and in all (None: not asked to).
    found: float | None = None
    waited: float | None = None


def stored_since(sources: Sources, before: dict, queued: set[str] = frozenset()) -> Stored:
    """The rows and keys MySQL gained after the snapshot `before`, and what Redis counted;
    first, when the run had grades answered 202 (`queued`), until route 3 has drained."""
    found, waited = (
        wait_for_queued_rows(sources.mysql, before["max_id"], queued, DRAIN_LIMIT, QUIET) if queued else (None, None)
    )
    new, keys = rows_after(sources.mysql, before["max_id"])
    rows = [(i, route, term) for i, route, term, _ in new]
    created = {i: at for i, route, _, at in new if route == "queue"}
    # The live view may trail MySQL by an outbox replay (route 2) or a consumer's batch
    # between its commit and its Redis update (route 3): give its total a few seconds to reach
    # the new rows of the routes that write it.
    live = sum(route in ("redis", "queue") for _, route, _ in rows)
    for _ in range(20):
        gain = redis_total(sources.redis, sources.prefix) - before["redis_total"]
        if gain == live:
            break
        time.sleep(0.5)
    earlier = before.get("redis_counts", {})
    counted = {f: n - earlier.get(f, 0) for f, n in redis_counts(sources.redis, sources.prefix).items()}
    return Stored(rows, keys, gain, {f: n for f, n in counted.items() if n}, created, found, waited)


def reconcile(
    client: Client, stored: Stored, routes: tuple[str, ...] = AIMS["split"]
) -> tuple[list[str], list[str], Counter]:
    """Table lines, the problems found comparing every key sent (`read_ids`) with what the
    stores gained (`stored_since`), and the rows MySQL gained per route; `routes` are the
    routes of the run's aim (`AIMS`), one column each."""
    sent, acked, queued, given_up, cut = client.sent, client.acked, client.queued, client.given_up, client.cut
    answered_routes = {record_id: route for route, record_id in acked.values()}
    per_route = Counter(answered_routes.values())
    problems = []
    if len(answered_routes) < len(acked):
        problems.append(f"{len(acked) - len(answered_routes)} ids were answered for more than one key")

    routes_of = {i: route for i, route, _ in stored.rows}
    stored_keys = stored.keys
    # Every grade sent is stored exactly once at most: a key has at most one row (its primary
    # key), an acknowledged key is the row that was answered (a 202's, once the queue has
    # drained), every row has the key of a grade this run sent, and only a grade
    # acknowledged, given up or cut at the stop has one.
    lost = [i for i in answered_routes if i not in routes_of]
    wrong_key = [k for k, (_, i) in acked.items() if i in routes_of and stored_keys.get(k) != i]
    unstored = sorted(k for k in queued if k not in stored_keys)
    queued_ids = {stored_keys[k]: route for k, (route, _) in queued.items() if k in stored_keys}
    keyless = set(routes_of) - set(stored_keys.values())
    never_sent = [k for k in stored_keys if k not in sent]
    given_up_stored = sum(k in stored_keys for k in given_up)
    cut_stored = sum(k in stored_keys for k in cut)
    answered = {**queued_ids, **answered_routes}
    unanswered = Counter(r for i, r in routes_of.items() if i not in answered)
    wrong_route = [i for i, r in answered.items() if i in routes_of and routes_of[i] != r]
    if lost:
        problems.append(f"{len(lost)} records answered 201 are not in MySQL, e.g. {lost[:5]}")
    if wrong_key:
        problems.append(f"{len(wrong_key)} keys were answered with an id that is not their stored grade")
    if unstored:
        waited = f"{stored.waited:.0f} s" if stored.waited is not None else "the report's wait"
        why = "lost, or route 3's consumers are that far behind"
        if len(unstored) == len(queued):
            # Not one stored: the consumer group held no partition. Restarting the stack
            # re-forms the group; the queued grades stay in the broker and are stored then.
            why = (
                "none at all: route 3's consumers took no partition; on the local stack `just dev-down`, "
                "then `just dev`, re-forms the group, and the queued grades are stored then"
            )
        problems.append(
            f"{len(unstored)} grades answered 202 were not stored within {waited} after the run ({why}), "
            f"e.g. {unstored[:3]}"
        )
    if keyless:
        problems.append(
            f"{len(keyless)} rows were stored without the key their grade was sent with "
            f"(a grade stored twice), e.g. {sorted(keyless)[:5]}"
        )
    if never_sent:
        problems.append(f"{len(never_sent)} rows carry a key this run never sent, e.g. {never_sent[:3]}")

    # The live view is exact: Redis's total grew by the new rows of the routes that write it
    # (2 and 3) in MySQL, and so did each count per course, semester and year.
    rows = Counter(routes_of.values())
    writers = [r for r in ("redis", "queue") if r in routes] or ["redis"]
    whose = {1: LABELS[writers[0]].split(" (")[0], 2: "routes 2 and 3"}[len(writers)]
    live_rows = rows["redis"] + rows["queue"]
    redis_gain = stored.redis_gain
    if redis_gain != live_rows:
        problems.append(f"Redis total grew by {redis_gain}, MySQL gained {live_rows} {whose} rows")
    mysql_counts = Counter(field for _, route, field in stored.rows if route in ("redis", "queue"))
    counted = stored.redis_counts
    if counted != mysql_counts:
        differ = sorted(f for f in counted.keys() | mysql_counts.keys() if counted.get(f) != mysql_counts.get(f))
        problems.append(
            f"Redis counts differ from {whose}'s MySQL rows for {len(differ)} course terms, e.g. {differ[:3]}"
        )

    def row(label: str, cells: dict[str, object]) -> str:
        return f"| {label} | " + " | ".join(str(cells.get(r, "n/a")) for r in routes) + " |"

    stored_now = [r for r in routes if r != "queue"]
    lines = ["| | " + " | ".join(LABELS[r] for r in routes) + " |", "|---|" + "---:|" * len(routes)]
    if stored_now:
        lines.append(row("201 answers (distinct ids)", {r: per_route[r] for r in stored_now}))
    if "queue" in routes:
        lines.append(row("202 answers (keys)", {"queue": len(queued)}))
    lines.append(row("rows MySQL gained", {r: rows[r] for r in routes}))
    missing = {r: sum(answered_routes[i] == r for i in lost) for r in stored_now}
    if "queue" in routes:
        missing["queue"] = f"{len(unstored)} of the 202s"
    lines.append(row("answered but not in MySQL", missing))
    lines.append(row("stored, never answered (cut at the stop, given up)", {r: unanswered[r] for r in routes}))
    if len(writers) == 1:
        lines.append(row("Redis total gained", {writers[0]: redis_gain}))
    if not queued:
        acknowledged = f"{len(acked)} acknowledged ({len(acked) - len(wrong_key)} stored once, under their key)"
    else:
        acknowledged = f"{len(acked) + len(queued)} acknowledged ("
        if stored_now:
            acknowledged += (
                f"{len(acked)} with a 201, {len(acked) - len(wrong_key)} of them stored once, under their key; "
            )
        acknowledged += (
            f"{len(queued)} with a 202, {len(queued) - len(unstored)} of them stored once, under their key, "
            "once the queue drained)"
        )
    lines += [
        "",
        f"{len(sent)} grades were sent, each with its `Idempotency-Key`: {acknowledged}; {len(given_up)} given up "
        f"after retries ({given_up_stored} of them stored, once); **{len(cut)} cut at the stop** (sent, never answered: "
        f"Locust ends its users with requests in flight), {cut_stored} of them stored, once.",
    ]
    if len(writers) == 2:
        lines += [
            "",
            f"The live view (Redis, written by routes 2 and 3): its total grew by {redis_gain}, for "
            f"{rows['redis']} route 2 rows and {rows['queue']} route 3 rows.",
        ]
    if wrong_route:
        lines.append(
            f"\n{len(wrong_route)} retries were answered by the other route than the one that had "
            f"stored their grade (its first answer was lost); each is counted under the route that stored it."
        )
    return lines, problems, rows


def queue_lines(client: Client, stored: Stored) -> list[str]:
    """Route 3's section of the reconciliation: how long its queue took to drain after the last
    202, and the time from each 202 to its grade's row."""
    if not client.queued:
        return ["No grade was answered 202."]
    # Each grade answered 202 and stored by route 3: when Locust read the 202, when its row came.
    pairs = [
        (at, stored.created[stored.keys[k]])
        for k, (_, at) in client.queued.items()
        if stored.keys.get(k) in stored.created
    ]
    waits = sorted(row - at for at, row in pairs)
    last_ack = max(at for _, at in client.queued.values())
    read = datetime.fromtimestamp(last_ack, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    last = (
        f"the last of their rows was written {max(0.0, max(row for _, row in pairs) - last_ack):.2f} s later"
        if pairs
        else "none of their grades was stored by route 3"
    )
    lines = [f"Draining: the run's last 202 was read at {read} UTC; {last}."]
    missing = sum(k not in stored.keys for k in client.queued)
    if stored.waited is not None and missing:
        lines[0] += f" The report waited {stored.waited:.1f} s for the rows of every 202: {missing} never came."
    elif stored.waited is not None:
        lines[0] += (
            f" The report, {DRAIN_LIMIT:.0f} s at most, found every 202's row after {stored.found:.1f} s, then saw no "
            f"new route 3 row for {QUIET:.0f} s ({stored.waited:.1f} s in all)."
        )
    lines.append("")
    if not waits:
        return lines
    early = sum(w < 0 for w in waits)
    lines += [
        "From 202 to stored row, per grade: its row's `created_at` (MySQL's clock when the consumer's batch INSERT "
        "ran; the commit follows it in the same transaction) less the time Locust read its 202 (Locust's clock). "
        "Exact per key, over this run's grades, from the moment the client knew its grade was queued; the "
        "consumers' own `notas_queue_time_to_stored_seconds` (under Server side) starts earlier, before the "
        "append, and its buckets are coarse. Both clocks are this machine's locally; in a cluster they differ by "
        "the hosts' clock offset.",
        "",
        "| | grades | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| route 3: 202 → stored row | {len(waits)} | "
        + " | ".join(f"{1000 * nearest_rank(waits, q):.0f}" for q in (0.50, 0.95, 0.99))
        + f" | {1000 * waits[-1]:.0f} |",
    ]
    if early:
        lines += [
            "",
            f"({early} were stored before Locust read their 202, a negative time: the consumer was faster than "
            "Locust's own loop.)",
        ]
    return lines


def pass_line(routes: tuple[str, ...]) -> str:
    """What a run that passed has shown."""
    stored_now = [r for r in routes if r != "queue"]
    writers = [r for r in ("redis", "queue") if r in routes]
    whose = {1: f"{LABELS[writers[0]].split(' (')[0]} row", 2: "row of routes 2 and 3"}.get(len(writers), "route 2 row")
    promise = "every 201 is one row in MySQL, none twice" if stored_now else ""
    if "queue" in routes:
        promise += (
            "; " if promise else ""
        ) + f"every 202 is one row within {DRAIN_LIMIT:.0f} s of the run's end, none twice"
    return (
        f"**PASS**: {promise}; every row is a grade this run sent, under its key, stored once whether it was "
        f"acknowledged, given up or cut at the stop; and Redis counted every {whose} exactly once, in its total "
        "and per course."
    )
