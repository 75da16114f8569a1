"""What `just smoke` checks against the running local stack after its load:

- dashboards.py: every query of the Grafana dashboards returns data from its Prometheus;
- edge.py: the edge's refusals, a JSON 429 with Retry-After and a JSON 413.
"""
