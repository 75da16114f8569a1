"""The repository's Python tools: one folder per tool, each run from the root as a module.

- common/: the parts every tool shares, written once.
- stack/: `just dev`, the local stack.
- loadtest/: `just loadtest` and `just smoke`.
- bench/: `just bench`.
- chaos/: `just chaos`, the fault suite.
- cluster/: `just up`, `just deploy-gke`, `just nix-sources`.
- checks/: what `just smoke` checks after its load.
- ci/: `just test`'s stages.
- tests/: their unit tests, one folder per tool (`just test-python`).

A package, so that the tools import each other without editing sys.path.
locust/locustfile.py, which Locust loads from the root, imports scripts.common.grades too.
"""
