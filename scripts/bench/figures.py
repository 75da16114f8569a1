"""The arithmetic over a run's results that the report, the targets and the chart share."""

import statistics


def rate_of(r: dict) -> float:
    """The acknowledgements a second of a highest-sustained-rate run."""
    return r["top"]["ok"] / r["top"]["seconds"]


def cores(run: dict) -> float:
    """The cores the stack kept busy in a run at a fixed rate: its CPU per stored record (in
    seconds per 1,000) times its rate."""
    return sum(run["cpu"].values()) / 1000 * run["rps"]


def every_ack_a_row(r: dict) -> bool:
    """Whether the rows MySQL gained are the run's acknowledgements, give or take the
    requests cut in flight at the end (they may have committed too)."""
    top = r["top"]
    return top["ok"] <= r["rows"] <= top["ok"] + top["in_flight"]


def rows_check(r: dict) -> str:
    """Every acknowledgement is a row; requests cut in flight at the end may have committed too."""
    top, answer = r["top"], "202s" if r.get("queue") else "201s"
    if every_ack_a_row(r):
        return f"{r['rows']:,} = {top['ok']:,} {answer} + {r['rows'] - top['ok']} cut in flight at the end"
    return f"**{r['rows']:,} for {top['ok']:,} {answer} and {top['in_flight']} cut in flight**"


def ir_per_record(passes: list[dict], name: str | None = None) -> list[float]:
    """Instructions per record in each pass of a route under callgrind: of service `name`, or
    of the route's services summed."""
    return [(p["ir"][name] if name else sum(p["ir"].values())) / p["rows"] for p in passes]


def spread(values: list[float]) -> float:
    """How far apart the passes are: (largest - smallest) / median."""
    return (max(values) - min(values)) / statistics.median(values)


def route_instructions(counted: dict | None) -> dict[str, float]:
    """Each route's instructions per record under callgrind (its services' summed, the median
    of the passes), if counted."""
    if not counted:
        return {}
    return {route: statistics.median(ir_per_record(passes)) for route, passes in counted["routes"].items()}
