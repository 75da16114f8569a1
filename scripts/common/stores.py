"""The stores as the tools read them: a MySQL connection from a URL, the live view as Redis
holds it, and the grades and keys MySQL stored. The load test's report and the fault suite
check the same facts, so they read them through the same functions."""

import time
from urllib.parse import unquote, urlparse

from scripts.common.contract import LiveKeys, count_field


def mysql_connect(url: str, **options):
    """A PyMySQL connection to a mysql:// URL; `options` go to pymysql.connect."""
    import pymysql

    u = urlparse(url)
    return pymysql.connect(
        host=u.hostname or "127.0.0.1",
        port=u.port or 3306,
        user=unquote(u.username or "root"),
        password=unquote(u.password or ""),
        database=u.path.lstrip("/") or "notas",
        **options,
    )


def live_view(url: str, prefix: str, timeout: float | None = None) -> tuple[int, dict[str, int]]:
    """The live view's total and its count per course term (`contract.count_field`); raises
    redis.RedisError when Redis does not answer (within `timeout` seconds, if given)."""
    import redis

    r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout)
    keys = LiveKeys(prefix)
    total = int(r.get(keys.total()) or 0)
    return total, {k: int(v) for k, v in r.hgetall(keys.counts()).items()}


def live_total(url: str, prefix: str) -> int:
    """The live view's total."""
    import redis

    return int(redis.Redis.from_url(url).get(LiveKeys(prefix).total()) or 0)


def live_counts(url: str, prefix: str) -> dict[str, int]:
    """The live view's count per course term (`contract.count_field`)."""
    return live_view(url, prefix)[1]


def live_rows(mysql_url: str) -> dict[str, int]:
    """What the live view should count: the rows of routes 2 and 3 per course term."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute(
            "SELECT curso, CAST(semestre AS CHAR), year, COUNT(*) FROM grades "
            "WHERE route IN ('redis', 'queue') GROUP BY curso, semestre, year"
        )
        return {count_field(c, s, y): n for c, s, y, n in cur.fetchall()}


def rows_after(mysql_url: str, max_id: int) -> tuple[list[tuple], dict[str, int]]:
    """The grades stored after id `max_id`, each as (id, route, count field, unix time of its
    INSERT), and the Idempotency-Keys committed with them (key: grade id)."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute(
            "SELECT id, route, curso, CAST(semestre AS CHAR), year, UNIX_TIMESTAMP(created_at) FROM grades"
            " WHERE id > %s",
            (max_id,),
        )
        new = cur.fetchall()
        cur.execute("SELECT CAST(idem_key AS CHAR), grade_id FROM idempotency_keys WHERE grade_id > %s", (max_id,))
        keys = {k: int(i) for k, i in cur.fetchall()}
    return [(int(i), route, count_field(c, s, y), float(at)) for i, route, c, s, y, at in new], keys


def stored_keys(cur, keys: list[str]) -> set[str]:
    """Those of `keys` (Idempotency-Keys) committed with a grade, read through cursor `cur`."""
    stored = set()
    for i in range(0, len(keys), 1000):
        chunk = keys[i : i + 1000]
        cur.execute(
            "SELECT CAST(idem_key AS CHAR) FROM idempotency_keys WHERE idem_key IN ("
            + ",".join(["%s"] * len(chunk))
            + ")",
            chunk,
        )
        stored.update(k for (k,) in cur.fetchall())
    return stored


def wait_for_queued_rows(
    mysql_url: str, max_id: int, queued: set[str], limit: float, quiet: float
) -> tuple[float, float]:
    """Waits, at most `limit` seconds in all, until every key in `queued` (answered 202) has
    its row, then until no route 3 row has been added for `quiet` seconds: a grade cut at the
    stop may have been queued too, and stored later it would be a stranger to the next run.
    Returns the seconds until every row was found, and in all."""
    start, missing = time.time(), list(queued)
    with mysql_connect(mysql_url, autocommit=True) as db, db.cursor() as cur:
        while missing and time.time() - start < limit:
            stored = stored_keys(cur, missing)
            missing = [k for k in missing if k not in stored]
            if missing:
                time.sleep(0.2)
        found, rows, since = time.time() - start, None, time.time()
        while time.time() - since < quiet and time.time() - start < limit:
            cur.execute("SELECT COUNT(*) FROM grades WHERE id > %s AND route = 'queue'", (max_id,))
            (now,) = cur.fetchone()
            if now != rows:
                rows, since = now, time.time()
            time.sleep(0.2)
    return found, time.time() - start


def stored_rows(mysql_url: str) -> list[tuple]:
    """Every stored grade as (id, nombre, route, key committed with it, unix time of its INSERT)."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute(
            "SELECT g.id, g.nombre, CAST(g.route AS CHAR), k.idem_key, UNIX_TIMESTAMP(g.created_at) FROM grades g "
            "LEFT JOIN idempotency_keys k ON k.grade_id = g.id"
        )
        return [(id_, nombre, route, key, float(at)) for id_, nombre, route, key, at in cur.fetchall()]


class StoredNames:
    """The names of the grades route 3 has stored, read a little more at each refresh."""

    def __init__(self, mysql_url: str):
        self.mysql_url, self.names, self.last_id = mysql_url, set(), 0

    def refresh(self) -> set[str]:
        with mysql_connect(self.mysql_url, connect_timeout=2) as db, db.cursor() as cur:
            cur.execute("SELECT id, nombre FROM grades WHERE route = 'queue' AND id > %s", (self.last_id,))
            for id_, nombre in cur.fetchall():
                self.names.add(nombre)
                self.last_id = max(self.last_id, id_)
        return self.names


def grade_count(mysql_url: str) -> int:
    """How many grades MySQL has stored, every route's."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM grades")
        return cur.fetchone()[0]


def student_rows(mysql_url: str) -> int:
    """How many rows the report summaries hold for students (student_stats)."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM student_stats")
        return cur.fetchone()[0]


def live_ids(mysql_url: str) -> list[int]:
    """The ids of the grades the live view should hold: the rows of routes 2 and 3."""
    with mysql_connect(mysql_url) as db, db.cursor() as cur:
        cur.execute("SELECT id FROM grades WHERE route IN ('redis', 'queue')")
        return [id_ for (id_,) in cur.fetchall()]


def unapplied(url: str, prefix: str, ids: list[int], timeout: float | None = None) -> list[int]:
    """Those of `ids` the live view has not counted yet: a grade is in the view once its bit is
    set in the `applied` bitmaps (crates/notas-core/src/live/mod.rs). Raises redis.RedisError
    when Redis does not answer (within `timeout` seconds, if given)."""
    import redis

    keys = LiveKeys(prefix)
    pipe = redis.Redis.from_url(url, socket_timeout=timeout).pipeline(transaction=False)
    for id_ in ids:
        pipe.getbit(*keys.applied(id_))
    return [id_ for id_, applied in zip(ids, pipe.execute()) if not applied]
