"""The edge's refusals, end to end against the running local stack (`just smoke` runs it):
a second nginx, rendered by scripts/stack from the same Ingresses but with a rate limit of one
grade a second (burst 1) per address, in front of the stack's own processes. A quick series
of grades must see some stored (201) and the rest refused with 429, `Retry-After` and the
contract's JSON body (answered by dashboard-api, as ingress-nginx's custom errors are), and a
body over `proxy-body-size` a JSON 413. Then nginx stops.

    python -m scripts.checks.edge
"""

import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from scripts.common.grades import random_grade
from scripts.stack import commands, free_port, read_ports, render

LIMIT = {"nginx.ingress.kubernetes.io/limit-rps": "1", "nginx.ingress.kubernetes.io/limit-burst-multiplier": "1"}


def post(url: str, body: bytes) -> tuple[int, dict, dict]:
    """POST `body` as JSON: the status, the headers (lower-cased names) and the JSON body."""
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, lower(answer.headers), json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, lower(refused.headers), json.load(refused)


def lower(headers) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def strict_ingress(folder: Path) -> Path:
    """The kind overlay's Ingresses with the main Ingress of /notas limited to LIMIT."""
    docs = [d for d in yaml.safe_load_all(render.INGRESS.read_text()) if d]
    for doc in docs:
        notes = doc["metadata"].setdefault("annotations", {})
        if "nginx.ingress.kubernetes.io/limit-rps" in notes:
            notes.update(LIMIT)
    path = folder / "ingress.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def main() -> None:
    ports = read_ports()
    with tempfile.TemporaryDirectory(prefix="notas-edge-") as folder:
        state = Path(folder)
        for sub in ("nginx/tmp", "logs"):
            (state / sub).mkdir(parents=True)
        port = free_port()
        servers = {name: [p] for name, p in ports.items()} | {"nginx": [port]}
        conf = render.render_nginx(servers, state, ingress=strict_ingress(state))
        (state / "nginx" / "nginx.conf").write_text(conf)
        nginx = subprocess.Popen(["bash", "-c", commands.nginx_command(state)])
        try:
            url = f"http://127.0.0.1:{port}/notas"
            for _ in range(50):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/live", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            answers = [post(url, json.dumps(random_grade()).encode()) for _ in range(10)]
            large = post(url, json.dumps({**random_grade(), "nombre": "x" * 20_000}).encode())
        finally:
            nginx.terminate()
            nginx.wait(10)
    statuses = [status for status, _, _ in answers]
    refused = [(headers, body) for status, headers, body in answers if status == 429]
    problems = []
    if 201 not in statuses or not refused or set(statuses) - {201, 429}:
        problems.append(f"10 quick grades at 1/s got {statuses}, not some 201 then 429s")
    for headers, body in refused:
        if headers.get("retry-after") != "1" or "too many requests" not in body.get("error", ""):
            problems.append(f"a 429 without Retry-After or the contract's body: {headers}, {body}")
    if large[0] != 413 or "too large" not in large[2].get("error", ""):
        problems.append(f"a 20 kB body got {large[0]} {large[2]}, not the contract's 413")
    if problems:
        sys.exit("edge: " + "; ".join(problems))
    print(f"edge: {statuses.count(201)} stored, {len(refused)} refused with 429 and Retry-After; 413 for 20 kB")


if __name__ == "__main__":
    main()
