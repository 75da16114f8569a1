"""The load test behind `just loadtest` and `just smoke`, split by phase:

- run.py: the preset, the path, the target and its stores, the probes, Locust;
- snapshot.py: the stores and the servers before the run, once at rest;
- client.py: what Locust's processes recorded, and the load generator's CPU;
- server.py: the services' own latencies, route 3's consumers, the CPU per stored record;
- reconcile.py: every key sent against the rows and the live view the stores gained;
- chart.py: throughput and p95 per route over the run (routes.png);
- report.py: report.md, from all of the above;
- smoke.py: CI's load test against a local stack it starts and stops;
- routes.py: the names every phase shares;
- __main__.py: `python -m scripts.loadtest run|smoke|snapshot|write`.
"""
