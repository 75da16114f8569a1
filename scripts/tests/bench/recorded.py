"""A bench run's results, written by hand: small round figures in the shape the run records
them, for the tests of the report, the targets and the chart."""

from scripts.bench.settings import QUEUE, ROUTE1, ROUTE2, SERVICES, SPLIT

__all__ = ["QUEUE", "ROUTE1", "ROUTE2", "SPLIT"]


def top(ok: int, errors: int = 0, in_flight: int = 4) -> dict:
    """A closed-model run of 10 s that was answered `ok` times."""
    return {
        "rps": ok / 10,
        "codes": {},
        "ok": ok,
        "in_flight": in_flight,
        "errors": errors,
        "p50_ms": 8.0,
        "p99_ms": 30.0,
        "seconds": 10,
    }


def spread(cpu_ms: float, nginx: float = 0.1) -> dict:
    """`cpu_ms` CPU ms per 1,000 records, as CPU seconds per 1,000 records of each process:
    mariadbd a half, nginx the share `nginx`, the rest evenly."""
    others = [p for p in SERVICES if p not in ("mariadbd", "nginx")]
    cpu = {p: cpu_ms * (0.5 - nginx) / len(others) / 1000 for p in others}
    return cpu | {"mariadbd": cpu_ms * 0.5 / 1000, "nginx": cpu_ms * nginx / 1000}


def closed(ok: int, rows: int, cpu_ms: float, queue: dict | None = None, batches: dict | None = None) -> dict:
    """A highest-sustained-rate run: `cpu_ms` CPU ms per 1,000 records, spread over the
    processes as `spread` does; `batches`: each flusher's grades and batches; a deadlock and
    two lock waits per 1,000 records."""
    return {
        "top": top(ok),
        "rows": rows,
        "cpu": spread(cpu_ms),
        "catch_up_s": 1.5,
        "oha_cpu": 0.02,
        "queue": queue,
        "batches": batches or {},
        "innodb": {"Innodb_deadlocks": ok / 1000, "Innodb_row_lock_waits": ok / 500, "Innodb_row_lock_time": ok / 10},
    }


def fixed(rate: int, p99_ms: float, errors: int = 0, seconds: int = 5) -> dict:
    """An open-model run at `rate` that was answered in full."""
    return {
        "rps": rate,
        "codes": {},
        "ok": rate * seconds,
        "in_flight": 0,
        "errors": errors,
        "p50_ms": p99_ms / 4,
        "p99_ms": p99_ms,
        "seconds": seconds,
    }


def queued(rate: int, kept_up: bool, seconds: int = 5) -> dict:
    """A fixed-rate run of route 3 and what its consumers did meanwhile."""
    return fixed(rate, 12.0, seconds=seconds) | {
        "rate": rate,
        "drain_s": 0.5,
        "stored_per_s": rate * 0.98 if kept_up else rate * 0.5,
        "lag_peak": rate // 4,
        "lag_late": rate // 10 if kept_up else rate * 2,
        "lag_mean": rate / 20,
        "queued_s": 0.05,
        "kept_up": kept_up,
    }


def flushes(mean_ms: float, p99_ms: float, count: int) -> dict:
    return {"mean_ms": mean_ms, "p99_ms": p99_ms, "count": count}


def paced(**own_us: float) -> list[dict]:
    """Three passes at the load test's pace: the route's own processes at `own_us` µs per
    record (the second pass 10% above), and the stores."""
    stores = {"mariadbd": 500.0, "redis-server": 50.0, "nisshi": 700.0}
    return [{**stores, **{p.replace("_", "-"): v * f for p, v in own_us.items()}} for f in (1.0, 1.1, 1.0)]


# The split's flushers: route 1 stored 30,000 of its 60,000 grades and route 2 the rest.
SPLIT_BATCHES = {"grpc-client": (30_000, 1_000), "grpc-server": (30_000, 500), "redis-api": (30_000, 500)}


def results() -> dict:
    rates = {rate: fixed(rate, p99) for rate, p99 in ((1000, 4.0), (5000, 12.0), (10000, 80.0))}
    split = closed(60_000, 60_002, 150.0, batches=SPLIT_BATCHES) | {"rates": dict(rates)}
    halved = {name: (grades * 5 // 6, batches * 2) for name, (grades, batches) in SPLIT_BATCHES.items()}
    split["fewer_connections"] = closed(50_000, 50_000, 180.0, batches=halved)
    split["together"] = closed(90_000, 90_000, 100.0, batches={name: (45_000, 450) for name in SPLIT_BATCHES})
    split["half"] = fixed(3000, 20.0, seconds=10) | {
        "rate": 3000,
        "flushes": {"grpc-client": flushes(3.0, 9.9, 900), "grpc-server": flushes(2.4, 15, 1700)}
        | {"redis-api": flushes(3.5, 20, 1500)},
        "cpu": spread(200.0),
    }
    alone = {"grpc-server": flushes(1.4, 7.5, 2100), "redis-api": flushes(1.7, 7.5, 2100)}
    split["half_parts"] = {
        "route 1": fixed(1500, 19.0, seconds=10)
        | {"rate": 1500, "flushes": {"grpc-server": alone["grpc-server"]}, "cpu": spread(240.0, nginx=0)},
        "route 2": fixed(1500, 15.0, seconds=10)
        | {"rate": 1500, "flushes": {"redis-api": alone["redis-api"]}, "cpu": spread(220.0, nginx=0)},
        "both routes": fixed(3000, 18.0, seconds=10)
        | {"rate": 1500, "flushes": {"grpc-server": flushes(2.2, 14, 1700), "redis-api": flushes(3.3, 19, 1500)}}
        | {"cpu": spread(180.0, nginx=0)},
        "static 204": fixed(3000, 2.0, seconds=10),
    }
    # The split kept 0.60 cores busy, route 1 alone 0.36: busy loops took the difference.
    split["loaded"] = fixed(1500, 30.0, seconds=10) | {
        "rate": 1500,
        "flushes": {"grpc-server": flushes(2.0, 12, 2000)},
        "cpu": spread(240.0, nginx=0),
        "route": "route 1",
        "extra_cores": 0.24,
        "busy_cores": 0.25,
    }
    queue = closed(50_000, 50_000, 300.0, {"stored_during": 30_000, "drained": 20_000, "drain_s": 4.2})
    queue["rates"] = {rate: queued(rate, rate < 10000) for rate in (1000, 5000, 10000)}
    queue["keep_up"] = [queued(5000, False, 10), queued(2500, True, 10), queued(3750, True, 10)]
    queue["paced"] = paced(queue_api=400.0, grade_consumer=300.0)
    return {
        ROUTE1: closed(55_000, 55_003, 140.0, batches={"grpc-client": (55_000, 2_000), "grpc-server": (55_000, 1_000)})
        | {"rates": dict(rates), "paced": paced(grpc_client=300.0, grpc_server=400.0)},
        SPLIT: split,
        ROUTE2: closed(65_000, 65_001, 120.0, batches={"redis-api": (65_000, 1_000)})
        | {"rates": dict(rates), "paced": paced(redis_api=450.0)},
        QUEUE: queue,
    }


CEILINGS = {
    "nginx static 204 (req/s)": 40_000.0,
    "nginx proxying a static 204 (req/s)": 25_000.0,
    "MariaDB durable batched INSERT (rows/s)": 100_000.0,
    "Redis INCR, pipelined (ops/s)": 500_000.0,
}
NAIVE = closed(9_000, 9_000, 400.0) | {"rates": {}}
LARGE = {
    "seconds": 95.0,
    "split": closed(54_000, 54_001, 160.0),
    "reports": {"records (all, newest 50)": 1.2, "top 5 students (all)": 3.4},
}
MACHINE = {"seconds": 600.0, "others": 30.0, "load": (0.5, 0.4, 0.3), "static_cpu": 25e-6, "proxy_cpu": 25e-6}


def counted() -> dict:
    """Three passes per route under callgrind, 2,000 rows each."""

    def passes(ir: dict, batches: dict) -> list[dict]:
        return [
            {"ir": {k: v * (1 + n / 100) for k, v in ir.items()}, "rows": 2000, "seconds": 20.0 + n, "batches": batches}
            for n in range(3)
        ]

    return {
        "routes": {
            "route 1 (grpc)": passes(
                {"grpc-client": 60e6, "grpc-server": 50e6}, {"grpc-client": 400, "grpc-server": 250}
            ),
            "route 2 (redis)": passes({"redis-api": 100e6}, {"redis-api": 250}),
            "route 3 (queue)": passes({"queue-api": 70e6, "grade-consumer": 80e6}, {"grade-consumer": 200}),
        },
        "idle": {
            "grpc-client": 1000,
            "grpc-server": 2000,
            "redis-api": 3000,
            "queue-api": 4000,
            "grade-consumer": 5000,
        },
    }
