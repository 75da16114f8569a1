"""`just smoke`'s check that the brief run measured the server side of both routes."""

from scripts.loadtest.smoke import measured, server_side

MEASURED = """# Route comparison

## Server side

### Latency at the services (Prometheus)

| route | POSTs answered | p50 (ms) | p95 (ms) | p99 (ms) |
|---|---:|---:|---:|---:|
| route 1 (grpc) | 2841 | 3.1 | 9.2 | 21.0 |
| route 2 (redis) | 2850 | 2.0 | 7.4 | 18.3 |

### CPU per stored record

| | records | processes (µs per record) | total (µs per record) |
|---|---:|---|---:|
| route 1 (grpc) | 2841 | grpc-client 410, grpc-server 380 | 790 |
| route 2 (redis) | 2850 | redis-api 300, redis 90 | 390 |
| shared | 5691 | mysql 900, nginx 120 | 1,020 |

## Reconciliation

**PASS**
"""


def test_the_section_runs_from_server_side_to_reconciliation():
    section = server_side(MEASURED)
    assert section.startswith("## Server side") and section.endswith("## Reconciliation")
    assert server_side("# Route comparison\n") == ""


def test_both_routes_measured_pass():
    assert measured(server_side(MEASURED))


def test_a_placeholder_or_a_missing_row_fails():
    assert not measured(server_side(MEASURED.replace("| 3.1 | 9.2 | 21.0 |", "| n/a | n/a | n/a |")))
    assert not measured(
        server_side(MEASURED.replace("| route 2 (redis) | 2850 | redis-api", "| route 2 (redis) | 0 | x"))
    )
    cpu = (
        MEASURED.split("### CPU")[0]
        + "### CPU per stored record\n\nNot measured: no local stack is running.\n\n## Reconciliation\n"
    )
    assert not measured(server_side(cpu))
