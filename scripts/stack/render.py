"""The configuration files the stack renders: nginx.conf from the kind overlay's Ingresses
(k8s/components/ingress-nginx-split), so that the local edge splits and limits as the
cluster's does, and prometheus.yml from the processes that serve /metrics."""

import os
import sys
from pathlib import Path

import yaml

from scripts.stack.ports import ROOT, STATE

INGRESS = ROOT / "k8s" / "components" / "ingress-nginx-split" / "ingress.yaml"
TEMPLATE = Path(__file__).with_name("nginx.conf.template")

# Which local process answers for each Kubernetes Service the Ingress names. dashboard-api
# serves the built frontend itself here (FRONTEND_DIR), where the cluster has a pod for it.
SERVICE_PROCESS = {
    "grpc-client": "grpc-client",
    "redis-api": "redis-api",
    "queue-api": "queue-api",
    "dashboard-api": "dashboard-api",
    "frontend": "dashboard-api",
}


def ingress_routes(
    ingress: Path = INGRESS,
) -> tuple[list[dict], dict[str, list[tuple[str, int]]]]:
    """The Ingress paths as (path, pathType, service) and, per canaried path, the
    services with their weights, the main Ingress's last (it takes what the canaries leave)."""
    docs = [d for d in yaml.safe_load_all(ingress.read_text()) if d and d.get("kind") == "Ingress"]
    main, canary = [], {}
    for doc in docs:
        notes = doc["metadata"].get("annotations", {})
        is_canary = notes.get("nginx.ingress.kubernetes.io/canary") == "true"
        weight = int(notes.get("nginx.ingress.kubernetes.io/canary-weight", "0"))
        for rule in doc["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                entry = {
                    "path": p["path"],
                    "type": p["pathType"],
                    "service": p["backend"]["service"]["name"],
                    "annotations": notes,
                }
                if is_canary:
                    canary.setdefault(entry["path"], []).append((entry["service"], weight))
                else:
                    main.append(entry)
    splits = {}
    for path, canaries in canary.items():
        # As ingress-nginx: a canary only shares a path that a main Ingress serves.
        base = next((e["service"] for e in main if e["path"] == path), None)
        if base is None:
            sys.exit(f"stack: {ingress}: the canary of {path} has no main Ingress for that path")
        weight = sum(w for _, w in canaries)
        if not 0 <= weight <= 100:
            sys.exit(f"stack: {ingress}: the canaries of {path} weigh {weight}, not 0 to 100")
        splits[path] = [*canaries, (base, 100 - weight)]
    return main, splits


# ingress-nginx's annotations of the edge's limits, by their short names.
ANNOTATION = "nginx.ingress.kubernetes.io/"


def edge_limits(annotations: dict, zone: str, rate_limit: bool = True) -> tuple[str, list[str]]:
    """What ingress-nginx makes of a main Ingress's limits, for one location: the http-level
    `limit_req_zone` and the location's directives. Per client address, `limit-rps` a second
    with bursts of `limit-burst-multiplier` (default 5) times that, answered without delay
    (its `buildRateLimit`); `proxy-body-size` as `client_max_body_size`; each code of
    `custom-http-errors` answered by the `default-backend` Service (the @edge_CODE locations
    of `edge_error_locations`). `rate_limit` False leaves the rate limit out (the bench
    measures the stack's own ceiling)."""
    get = lambda name: annotations.get(ANNOTATION + name)  # noqa: E731
    zones, directives = "", []
    if (rps := get("limit-rps")) and rate_limit:
        burst = int(rps) * int(get("limit-burst-multiplier") or 5)
        zones = f"    limit_req_zone $binary_remote_addr zone={zone}:5m rate={int(rps)}r/s;\n"
        directives.append(f"limit_req zone={zone} burst={burst} nodelay;")
    if size := get("proxy-body-size"):
        directives.append(f"client_max_body_size {size};")
    if codes := get("custom-http-errors"):
        directives.append("proxy_intercept_errors on;")
        directives += [f"error_page {code} = @edge_{code};" for code in codes.split(",")]
    return zones, directives


def edge_error_locations(main: list[dict]) -> str:
    """The named locations that hand the edge's refusals to the `default-backend` Service as
    ingress-nginx's CUSTOM_ERRORS do: `/` with the status in `X-Code`, its answer unchanged."""
    codes = {}
    for entry in main:
        notes = entry["annotations"]
        for code in filter(None, notes.get(ANNOTATION + "custom-http-errors", "").split(",")):
            codes[code] = notes[ANNOTATION + "default-backend"]
    return "\n".join(
        f"        location @edge_{code} {{\n"
        f"            proxy_set_header X-Code {code};\n"
        "            proxy_set_header Host $host;\n"
        "            rewrite (.*) / break;\n"
        f"            proxy_pass http://{service};\n"
        "        }"
        for code, service in sorted(codes.items())
    )


# The header that asks POST /notas for the three-way split, as the GKE Gateway's rule
# matches it (k8s/components/gateway-api-split); ingress-nginx weighs one canary per path, so
# the kind cluster has no three-way split.
THREE_WAY_HEADER = ("x-notas-split", "all")


def three_way_split(
    splits: dict[str, list[tuple[str, int]]],
) -> list[tuple[str, int]] | None:
    """POST /notas shared by the three routes, a third each: routes 1 and 2 as the Ingress
    splits /notas, route 3 (queue-api) beside them. None when /notas has no split."""
    if "/notas" not in splits:
        return None
    first, second = (svc for svc, _ in splits["/notas"])
    return [(first, 33), (second, 33), ("queue-api", 34)]


# Idle connections each worker keeps to an upstream, as ingress-nginx keeps by default
# (upstream-keepalive-connections, 320 in its controller's config.go). nginx closes the idle
# connections beyond it, and the bench sends 128 at a time to each upstream of the split.
KEEPALIVE = 320
# The bench's ceilings: a static 204, and the same 204 through nginx's proxying (to itself).
STATIC_204 = """        location = /__static_204 {
            return 204;
        }

        location = /__proxied_204 {
            proxy_pass http://static_204/__static_204;
        }"""


def render_nginx(
    servers: dict[str, list[int]],
    state: Path = STATE,
    static_204: bool = False,
    ingress: Path = INGRESS,
    rate_limit: bool = True,
) -> str:
    """nginx.conf for the local stack, from the Ingresses in `ingress`: `servers` gives the
    ports of each process that answers for a Service (several when the fault suite runs
    replicas); `static_204` adds the benchmark's ceilings, a location nginx answers without
    any upstream and one it proxies to that location, to measure what proxying costs;
    `rate_limit` False leaves the edge's rate limit out (for the bench)."""
    main, splits = ingress_routes(ingress)
    # max_fails=0: a replica that refuses a connection is passed over for that request only
    # (nginx tries the next), where the default rules it out for 10 s, and during a rolling
    # restart both replicas at once ("no live upstreams"). The cluster's ingress-nginx
    # follows the Service's ready endpoints instead.
    # POST /notas with THREE_WAY_HEADER: the three routes, a third each (with queue-api only).
    three = three_way_split(splits) if "queue-api" in servers else None
    services = sorted(
        {e["service"] for e in main} | {s for parts in splits.values() for s, _ in parts} | {s for s, _ in three or []}
    )
    if unknown := [svc for svc in services if svc not in SERVICE_PROCESS]:
        sys.exit(
            f"stack: no local process answers for the Service {unknown[0]} (scripts/stack/render.py SERVICE_PROCESS)"
        )
    upstreams = "\n".join(
        f"    upstream {svc} {{\n"
        + "".join(f"        server 127.0.0.1:{port} max_fails=0;\n" for port in servers[SERVICE_PROCESS[svc]])
        + f"        keepalive {KEEPALIVE};\n    }}\n"
        for svc in services
    )
    if static_204:
        upstreams += (
            f"    upstream static_204 {{\n        server 127.0.0.1:{servers['nginx'][0]};\n"
            f"        keepalive {KEEPALIVE};\n    }}\n"
        )
    split_blocks, locations = [], []

    def location(match: str, entry: dict, upstream: str) -> str:
        zones, directives = edge_limits(entry["annotations"], f"edge_{len(locations)}", rate_limit)
        if zones:
            split_blocks.append(zones)
        body = "".join(f"            {d}\n" for d in [*directives, f"proxy_pass http://{upstream};"])
        return f"        location {match}{entry['path']} {{\n{body}        }}"

    def split(var: str, parts: list[tuple[str, int]]) -> None:
        shares = "".join(f"        {weight}% {svc};\n" for svc, weight in parts[:-1])
        split_blocks.append(
            f'    split_clients "${{request_id}}" {var} {{\n{shares}        * {parts[-1][0]};\n    }}\n'
        )

    for i, (path, parts) in enumerate(splits.items()):
        var = f"$split_{i}"
        split(var, parts)
        if path == "/notas" and three:
            (name, value), var = THREE_WAY_HEADER, "$split_notas"
            split("$split_all", three)
            header = "$http_" + name.replace("-", "_")
            split_blocks.append(
                f"    map {header} {var} {{\n        default $split_{i};\n        {value} $split_all;\n    }}\n"
            )
        # The split takes the main Ingress's settings, as ingress-nginx gives a canary's path.
        entry = next(e for e in main if e["path"] == path)
        locations.append(location("= ", entry, var))
    for entry in main:
        if entry["path"] in splits:
            continue
        locations.append(location("= " if entry["type"] == "Exact" else "", entry, entry["service"]))
    if errors := edge_error_locations(main):
        locations.append(errors)
    text = TEMPLATE.read_text()
    for key, value in {
        "USER": "user root;" if os.geteuid() == 0 else "",
        "STATE": str(state),
        "PORT": str(servers["nginx"][0]),
        "UPSTREAMS": upstreams,
        "SPLITS": "\n".join(split_blocks),
        "LOCATIONS": "\n\n".join(locations),
        "EXTRA": STATIC_204 if static_204 else "",
    }.items():
        text = text.replace(f"@@{key}@@", value)
    return text


def render_prometheus(targets: dict[str, list[str]]) -> str:
    """prometheus.yml: one job per program that serves /metrics (`targets`: job → its
    processes' host:port), the job named like the program, as the cluster's scrape jobs name
    the Deployment whatever its replicas. Scraped every 2 s so that the dashboard's charts
    move within seconds of a load."""
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": addresses}]} for job, addresses in targets.items()
        ],
    }
    return "# Generated by scripts/stack for `just dev`.\n" + yaml.safe_dump(config, sort_keys=False)
