"""The repository's Python tools, run from its root as modules (`python -m scripts.devstack`),
so they import each other (scripts.stack) and locust/ without editing sys.path."""
