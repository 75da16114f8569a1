# notas: `just` lists the recipes by group. Every variable below can be overridden from the
# environment. Each recipe is a few lines; the logic lives in scripts/, where it is tested.

set shell := ["bash", "-euo", "pipefail", "-c"]

# `just dev` starts its own MariaDB and Redis unless MYSQL_URL / REDIS_URL name existing ones.
# Servers the tests create their own databases and key prefixes on.
export TEST_MYSQL_URL := env("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
export TEST_REDIS_URL := env("TEST_REDIS_URL", "redis://127.0.0.1:6379")
export RUST_LOG := env("RUST_LOG", "info")

python := ".dev/venv/bin/python"

# The build the local stack runs: target/NOTAS_PROFILE. `just dev` runs optimised code, as a
# cluster does, from the profile quick-release (Cargo.toml says why not release). The test
# stages that start a stack run the debug build the tests compiled already: a second,
# optimised build of the workspace would cost CI minutes.
dev_profile := env("NOTAS_PROFILE", "quick-release")
test_profile := env("NOTAS_PROFILE", "debug")

# The workspace's own crates compile through clippy-driver: clippy's lints, then rustc's code
# as usual. So the one debug build serves `just lint` and every test stage; a separate `cargo
# clippy` checked the whole dependency tree a second time (two minutes of two cores). Empty
# (no wrapper) where clippy is not installed; `just lint` then says so.
export RUSTC_WORKSPACE_WRAPPER := env("RUSTC_WORKSPACE_WRAPPER", `command -v clippy-driver || true`)

[private]
default:
    @just --list --unsorted

# Run the whole stack as local processes, state in .dev/ (docs/local-stack.md)
[group('run')]
dev: _venv _npm (_bins dev_profile)
    #!/usr/bin/env bash
    set -euo pipefail
    export NOTAS_PROFILE={{dev_profile}}
    (cd frontend && npm run build)
    {{just_executable()}} _broker
    {{python}} -m scripts.stack prepare
    exec {{python}} -m scripts.stack run

# Stop the stack `just dev` started, from another terminal
[group('run')]
dev-down: _venv
    {{python}} -m scripts.stack down

# Stop the local stack and delete its data and logs (.dev/)
[group('run')]
dev-clean: dev-down
    rm -rf .dev

# Locust: PRESET smoke|brief|stress, ROUTES split|queue|all (docs/loadtest.md)
[group('measure')]
loadtest preset="smoke" target="" routes=env("LT_ROUTES", "split"): _venv
    @{{python}} -m scripts.loadtest run {{quote(preset)}} {{quote(target)}} {{quote(routes)}}

# CI's load test: the local stack under load, its report, the dashboards' queries, the edge (docs/testing.md)
[group('test')]
smoke: _venv _npm
    @NOTAS_PROFILE={{test_profile}} {{python}} -m scripts.loadtest smoke --just {{quote(just_executable())}}

# The fault suite: eight faults under load, nothing acknowledged lost or doubled (docs/faults.md)
[group('test')]
chaos: _venv (_bins test_profile)
    {{just_executable()}} _broker
    NOTAS_PROFILE={{test_profile}} {{python}} -m scripts.chaos

# A kind cluster with notas deployed, from Nix-built images (docs/cluster.md)
[group('cluster')]
up:
    scripts/cluster/up.sh

# Delete the kind cluster, with everything in it, the MySQL and Kafka volumes too
[group('cluster')]
down:
    kind delete cluster --name notas

# Images to Artifact Registry, the frontend to Cloud Run, the GKE overlay applied (docs/gke.md)
[group('cluster')]
deploy-gke:
    scripts/cluster/deploy-gke.sh

# The routes measured against this machine's own limits; writes BENCHMARKS.md (docs/performance.md)
[group('measure')]
bench: _venv _npm
    command -v oha >/dev/null || cargo install --locked oha@1.16.0
    command -v redis-benchmark >/dev/null || { echo "bench needs redis-benchmark (apt install redis-tools)" >&2; exit 1; }
    cargo build --release --locked --bins
    cd frontend && npm run build
    {{just_executable()}} _broker
    {{python}} -m scripts.bench

# The stages' order: what needs no broker first, as the bootstrap may still be building it; the
# fault suite alone and last, as beside another stage's load its requests wait for a core.
# Every test stage in turn, the fuzzing beside them; prints each stage's time (docs/testing.md)
[group('test')]
test: _venv
    JUST={{just_executable()}} {{python}} -m scripts.ci.stages test-python test-frontend nix-sources test-rust e2e smoke chaos

# Every fuzz build's flags: no sanitizer, so the stable toolchain builds it; the dev profile, which
# compiles the targets' dependency tree (nearly the workspace's) in 4.6 min of CPU against the
# release profile's 7.1, and still runs thousands of inputs a second.
fuzz_flags := "--fuzz-dir . --sanitizer none --dev"

# The request decoder and grpc-server's message conversion under libFuzzer, SECONDS each
[group('test')]
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

# The fuzz targets' build, in their own workspace; installs cargo-fuzz first
[group('test')]
fuzz-build:
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.1
    cd crates/fuzz && cargo fuzz build {{fuzz_flags}}

# The Python tools' unit tests (pytest, scripts/tests/)
[group('test')]
test-python: _venv
    {{python}} -m pytest -q scripts/tests

# The Rust tests, against real MariaDB and Redis, and the offline deployment checks
[group('test')]
test-rust: _venv
    cargo test --workspace --locked

# The frontend's unit tests (Vitest)
[group('test')]
test-frontend: _npm
    cd frontend && npm test

# The stack end to end, through socket.io-client and headless Chromium
[group('test')]
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

# Formatting, clippy, ruff and the workflows' schema, as CI runs them
[group('test')]
lint: _venv
    cargo fmt --all -- --check
    {{ruff}} check --line-length 120 --select E4,E7,E9,F,I --config "{{ruff_isort}}" scripts locust
    {{ruff}} format --check --line-length 120 scripts locust
    {{python}} -m check_jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
    # clippy's lints and rustc's, on every target the tests build: any warning fails.
    @[ -n "$RUSTC_WORKSPACE_WRAPPER" ] || { echo "just lint needs clippy (rustup component add clippy)" >&2; exit 1; }
    cargo test --workspace --locked --no-run 2>&1 | tee .dev/lint-build.log
    @! grep -E '^(warning|error)' .dev/lint-build.log >&2 || { echo "just lint: the build above has warnings" >&2; exit 1; }

# Build offline from exactly the files Nix hands each build (nix/README.md)
[group('test')]
nix-sources: _venv _npm
    {{python}} -m scripts.cluster.nix_sources

# Run one service by hand, e.g. `just run grpc-server` (docs/local-stack.md)
[group('run')]
run service *args:
    cargo run --locked -p {{service}} -- {{args}}

# Post the brief's example grade four times through the split, showing which route answered
[group('run')]
post carnet="233233":
    #!/usr/bin/env bash
    set -euo pipefail
    set -a; . .dev/stack.env; set +a
    body='{"carnet": {{carnet}}, "nombre": "Alumno 1", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023}'
    for _ in 1 2 3 4; do
        curl -sS -D - -o - -H 'content-type: application/json' -d "$body" "$NOTAS_URL/notas" | grep -iE '^(HTTP|x-notas-route)|^\{'
        echo
    done

# Route 3's broker (.dev/bin/nisshi, or NISSHI): waits for scripts/bootstrap.sh's build of it if
# one is under way, and fails with that build's log if it left none.
_broker:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -n "${NISSHI:-}" ] && exit 0
    if command -v flock >/dev/null && [ -f .dev/nisshi-build.lock ] && ! flock -n .dev/nisshi-build.lock true; then
        echo "waiting for the bootstrap's build of nisshi (.dev/nisshi-build.log)"
        flock .dev/nisshi-build.lock true
    fi
    [ -x .dev/bin/nisshi ] && exit 0
    cat .dev/nisshi-build.log 2>/dev/null || true
    echo "no broker at .dev/bin/nisshi: scripts/bootstrap.sh <recipe> builds it" >&2
    exit 1

# The service binaries, into target/PROFILE (the debug build is cargo's profile `dev`)
_bins profile:
    cargo build --locked --bins --profile {{ if profile == "debug" { "dev" } else { profile } }}

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

# Grafana of the kind cluster at http://localhost:3000 (Ctrl-C stops the port-forward)
[group('cluster')]
grafana:
    kubectl --context kind-notas -n so1p2 port-forward svc/grafana 3000:3000

# Prometheus of the kind cluster at http://localhost:9090 (Ctrl-C stops the port-forward)
[group('cluster')]
prometheus:
    kubectl --context kind-notas -n so1p2 port-forward svc/prometheus 9090:9090
