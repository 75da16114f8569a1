# notas: `just` lists the recipes. Every variable below can be overridden from the environment.

set shell := ["bash", "-euo", "pipefail", "-c"]

# `just dev` starts its own MariaDB and Redis unless MYSQL_URL / REDIS_URL name existing ones.
# Servers the tests create their own databases and key prefixes on.
export TEST_MYSQL_URL := env("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
export TEST_REDIS_URL := env("TEST_REDIS_URL", "redis://127.0.0.1:6379")
export RUST_LOG := env("RUST_LOG", "info")

python := ".dev/venv/bin/python"

# The workspace's own crates compile through clippy-driver: clippy's lints, then rustc's code
# as usual. So the one debug build serves `just lint` and every test stage; a separate `cargo
# clippy` checked the whole dependency tree a second time (two minutes of two cores). Empty
# (no wrapper) where clippy is not installed; `just lint` then says so.
export RUSTC_WORKSPACE_WRAPPER := env("RUSTC_WORKSPACE_WRAPPER", `command -v clippy-driver || true`)

default:
    @just --list

# Run the whole stack locally: MariaDB, Redis, nginx (the Ingress' 50/50 split) and every service, state in .dev/ (Ctrl-C stops it).
dev: _venv _npm
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --locked --bins
    (cd frontend && npm run build)
    {{just_executable()}} _broker
    {{python}} -m scripts.stack prepare
    exec {{python}} -m scripts.stack run

# Stop the stack `just dev` started (from another terminal).
dev-down: _venv
    {{python}} -m scripts.stack down

# Delete the local stack's data and logs (.dev/), after stopping it.
dev-clean: dev-down
    rm -rf .dev

# Locust, headless: `just loadtest [smoke|brief|stress] [target URL] [split|queue|all]` (default: the local stack, the split). The third argument (or LT_ROUTES) is where the users post: split, POST /notas, routes 1 and 2 50/50 (the brief's); queue, POST /queue/notas, route 3 alone; all, POST /notas with the header x-notas-split: all, the three routes a third each (the local stack and GKE; kind's ingress-nginx has no such split). LT_USERS, LT_SPAWN, LT_DURATION, LT_PROCESSES (Locust processes; -1: one per core) override the preset; LT_MYSQL, LT_REDIS, LT_PREFIX, LT_PROMETHEUS give a remote target's stores and Prometheus for the reconciliation and the server-side figures (found by themselves for the local stack and for kind at http://localhost). Writes locust/runs/<time>-<preset>[-queue|-all]/report.md.
loadtest preset="smoke" target="" routes=env("LT_ROUTES", "split"): _venv
    @{{python}} -m scripts.loadtest run {{quote(preset)}} {{quote(target)}} {{quote(routes)}}

# CI's load test: bring the local stack up, run the smoke preset (and for 10 s at the three routes) and the brief preset for 30 s (server-side figures required), run every Grafana panel's query against the stack's Prometheus, check the edge's 429 and 413 (scripts/checks/edge.py), tear the stack down. Then the same against "kind" (scripts/testing/kind-kubectl answers for the cluster with the local stores), a server that is not notas must be refused, and a killed MariaDB must end the stack naming itself.
smoke: _venv _npm
    @{{python}} -m scripts.loadtest smoke --just {{quote(just_executable())}}

# The fault suite (scripts/chaos/): the debug build the other tests use (NOTAS_PROFILE=release: release builds), two replicas of each route behind the split, a steady load while MariaDB and Redis are killed, Redis stalls, MariaDB is stopped and each replica restarted in turn. Checks that no acknowledged grade is lost or stored twice, the live view stays exact and every request is answered in time; writes .dev/chaos/<time>/report.md, exits 1 on any violation.
chaos: _venv
    cargo build --locked --bins {{ if env("NOTAS_PROFILE", "debug") == "release" { "--release" } else { "" } }}
    {{just_executable()}} _broker
    {{python}} -m scripts.chaos

# A kind cluster with ingress-nginx, metrics-server and the Strimzi operator, the Nix-built images loaded, route 3's Kafka cluster Ready, and k8s/overlays/kind applied with those images (needs Docker, Nix, kind, kubectl). The pinned upstream versions are at the top of scripts/cluster/up.sh.
up:
    scripts/cluster/up.sh

# Delete the kind cluster, with everything in it (the MySQL and Kafka volumes too).
down:
    kind delete cluster --name notas

# Build the x86_64 Linux images, push them to Artifact Registry, deploy the frontend to Cloud Run and apply k8s/overlays/gke (scripts/cluster/deploy-gke.sh; docs/gke.md).
deploy-gke:
    scripts/cluster/deploy-gke.sh

# Both routes measured against this machine's own limits, from release builds, in a few minutes; writes BENCHMARKS.md and benchmarks.png.
bench: _venv _npm
    command -v oha >/dev/null || cargo install --locked oha@1.16.0
    command -v redis-benchmark >/dev/null || { echo "bench needs redis-benchmark (apt install redis-tools)" >&2; exit 1; }
    cargo build --release --locked --bins
    cd frontend && npm run build
    {{just_executable()}} _broker
    {{python}} -m scripts.bench

# The stages' order: what needs no broker first, as the bootstrap may still be building it; the
# fault suite alone and last, as beside another stage's load its requests wait for a core.
# Run every test: the Python tools' unit tests, Rust, frontend unit tests, end to end in headless Chromium, the smoke load test, the fault suite, and the fuzz targets; prints how long each stage took.
test: _venv
    JUST={{just_executable()}} {{python}} -m scripts.ci.stages test-python test-frontend nix-sources test-rust e2e smoke chaos

# Every fuzz build's flags: no sanitizer, so the stable toolchain builds it; the dev profile, which
# compiles the targets' dependency tree (nearly the workspace's) in 4.6 min of CPU against the
# release profile's 7.1, and still runs thousands of inputs a second.
fuzz_flags := "--fuzz-dir . --sanitizer none --dev"

# The request decoder and the gRPC message conversion under libFuzzer, for a bounded time each (any panic, or a refusal other than 400/422 or INVALID_ARGUMENT, fails). New inputs go to a temporary folder, crates/fuzz/corpus keeps its seeds.
fuzz seconds="20": fuzz-build
    #!/usr/bin/env bash
    set -euo pipefail
    cd crates/fuzz
    # Both targets at once, a core each.
    runs=()
    for target in grade_json grpc_message; do
        found=$(mktemp -d)
        (cargo fuzz run {{fuzz_flags}} "$target" "$found" "corpus/$target" -- -max_total_time={{seconds}}; rm -rf "$found") &
        runs+=($!)
    done
    for run in "${runs[@]}"; do wait "$run"; done

# The fuzz targets' build (their own workspace and target/), cargo-fuzz installed first.
fuzz-build:
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.1
    cd crates/fuzz && cargo fuzz build {{fuzz_flags}}

# The Python tools' unit tests (pytest, scripts/tests/): the nginx rendering, port choice, the overlay renderer, the load test's reconciliation and the fault suite's checks.
test-python: _venv
    {{python}} -m pytest -q scripts/tests

# Rust tests against real MariaDB and Redis (TEST_MYSQL_URL, TEST_REDIS_URL), and the offline deployment checks. Route 3's broker tests wait for tansu while the bootstrap still builds it; the others run meanwhile.
test-rust: _venv
    cargo test --workspace --locked

# The frontend's unit tests (Vitest).
test-frontend: _npm
    cd frontend && npm test

# The whole stack as processes, driven by socket.io-client and headless Chromium; screenshots in frontend/e2e-output/.
e2e: _npm
    cargo build --locked --bins
    cd frontend && npm run build
    {{just_executable()}} _broker
    cd frontend && npm run e2e

# The Python tools' linter and formatter, lines up to 120 characters. Its checks: pyflakes'
# (F), pycodestyle's errors (E4, E7, E9) and the order of imports (I), which takes `locust`
# for the library although this repository has a folder of that name (no package).
ruff := ".dev/venv/bin/ruff"
ruff_isort := "lint.isort.known-third-party = ['locust']"

# Formatting, clippy (in the tests' build), the Python tools' lint (ruff) and the GitHub workflow's schema, as CI runs them.
lint: _venv
    cargo fmt --all -- --check
    {{ruff}} check --line-length 120 --select E4,E7,E9,F,I --config "{{ruff_isort}}" scripts locust
    {{ruff}} format --check --line-length 120 scripts locust
    {{python}} -m check_jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
    # clippy's lints and rustc's, on every target the tests build: any warning fails.
    @[ -n "$RUSTC_WORKSPACE_WRAPPER" ] || { echo "just lint needs clippy (rustup component add clippy)" >&2; exit 1; }
    cargo test --workspace --locked --no-run 2>&1 | tee .dev/lint-build.log
    @! grep -E '^(warning|error)' .dev/lint-build.log >&2 || { echo "just lint: the build above has warnings" >&2; exit 1; }

# Build offline from exactly the files Nix hands each build (the source sets of nix/rust.nix and nix/frontend.nix, computed by the flake model), copied to an empty folder: cargo check of the workspace, npm ci and the frontend's build. Fails naming the build a missing file breaks.
nix-sources: _venv _npm
    {{python}} -m scripts.cluster.nix_sources

# Run one service: just run grpc-server | grpc-client | redis-api | dashboard-api
run service *args:
    cargo run --locked -p {{service}} -- {{args}}

# Post the brief's example grade four times through the split of a running `just dev`, showing which route answered.
post carnet="233233":
    #!/usr/bin/env bash
    set -euo pipefail
    set -a; . .dev/stack.env; set +a
    body='{"carnet": {{carnet}}, "nombre": "Alumno 1", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023}'
    for _ in 1 2 3 4; do
        curl -sS -D - -o - -H 'content-type: application/json' -d "$body" "$NOTAS_URL/notas" | grep -iE '^(HTTP|x-notas-route)|^\{'
        echo
    done

# Route 3's broker (.dev/bin/tansu, or TANSU): waits for scripts/bootstrap.sh's build of it if
# one is under way, and fails with that build's log if it left none.
_broker:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -n "${TANSU:-}" ] && exit 0
    if command -v flock >/dev/null && [ -f .dev/tansu-build.lock ] && ! flock -n .dev/tansu-build.lock true; then
        echo "waiting for the bootstrap's build of tansu (.dev/tansu-build.log)"
        flock .dev/tansu-build.lock true
    fi
    [ -x .dev/bin/tansu ] && exit 0
    cat .dev/tansu-build.log 2>/dev/null || true
    echo "no broker at .dev/bin/tansu: scripts/bootstrap.sh <recipe> builds it" >&2
    exit 1

_npm:
    @cd frontend && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }

# The Python tools (PyYAML, Locust and the report's libraries) in .dev/venv, reinstalled when a requirements file changes.
_venv:
    #!/usr/bin/env bash
    set -euo pipefail
    stamp=.dev/venv/.requirements
    wanted=$(cat scripts/requirements.txt locust/requirements.txt)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && exit 0
    python3 -m venv .dev/venv
    .dev/venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt -r locust/requirements.txt
    echo "$wanted" > "$stamp"

# Grafana of the kind cluster at http://localhost:3000, every dashboard provisioned, anonymous viewers (Ctrl-C stops the port-forward).
grafana:
    kubectl --context kind-notas -n so1p2 port-forward svc/grafana 3000:3000

# Prometheus of the kind cluster at http://localhost:9090 (Ctrl-C stops the port-forward).
prometheus:
    kubectl --context kind-notas -n so1p2 port-forward svc/prometheus 9090:9090
