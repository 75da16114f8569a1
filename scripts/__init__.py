"""The repository's Python tools, run from its root as modules (`python -m scripts.devstack`),
so that they import each other (scripts.stack, scripts.contract) without editing sys.path;
locust/locustfile.py, which Locust loads from the root, imports scripts.grades the same way.
Their tests are in scripts/tests/ (`just test-python`)."""
