"""The repository's Python tools, run from its root as modules (`python -m scripts.stack`),
so that they import each other (scripts.stack, scripts.common) without editing sys.path;
locust/locustfile.py, which Locust loads from the root, imports scripts.common.grades the same
way. The parts every tool shares are in scripts/common/. Their tests are in scripts/tests/
(`just test-python`)."""
