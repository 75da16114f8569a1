#!/usr/bin/env bash
# Installs what notas needs on a Debian/Ubuntu machine, or says exactly what is missing,
# then runs `just <recipe>` (e.g. `scripts/bootstrap.sh dev`, `scripts/bootstrap.sh test`).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cargo >/dev/null || missing+=("a Rust toolchain (https://rustup.rs)")
command -v python3 >/dev/null || missing+=("python3 (apt install python3 python3-venv)")
command -v npm >/dev/null || missing+=("Node.js 20 or later with npm (https://nodejs.org)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'notas needs: %s\n' "${missing[@]}" >&2
    exit 1
fi

apt_packages=()
command -v protoc >/dev/null || apt_packages+=(protobuf-compiler)
# rdkafka builds its bundled librdkafka with CMake; librdkafka 2.12 includes curl's header
# even when built without curl (librdkafka issue #5135), though it calls nothing from it.
command -v cmake >/dev/null || apt_packages+=(cmake)
[ -e /usr/include/curl/curl.h ] || [ -e "/usr/include/$(gcc -dumpmachine 2>/dev/null)/curl/curl.h" ] ||
    apt_packages+=(libcurl4-openssl-dev)
command -v curl >/dev/null || apt_packages+=(curl)
# The local stack runs its own MariaDB, Redis, nginx and Prometheus (`just dev`); the tests use their clients.
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
command -v mariadbd >/dev/null || apt_packages+=(mariadb-server)
command -v mysql >/dev/null || apt_packages+=(mariadb-client)
command -v redis-server >/dev/null || apt_packages+=(redis-server)
command -v nginx >/dev/null || apt_packages+=(nginx)
command -v prometheus >/dev/null || apt_packages+=(prometheus)
# The end-to-end tests drive Debian's Chromium (playwright-core downloads no browser); the
# deployment checks render k8s/ with kubectl and parse nix/ with nix-instantiate.
case " $* " in *" test "* | *" e2e "*)
    [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
    command -v nix-instantiate >/dev/null || apt_packages+=(nix-bin)
    # The Redis TLS test makes its certificate authority with it.
    command -v openssl >/dev/null || apt_packages+=(openssl)
    command -v kubectl >/dev/null || {
        echo "notas needs: kubectl for the deployment checks (https://kubernetes.io/docs/tasks/tools/)" >&2
        exit 1
    } ;;
esac
if [ ${#apt_packages[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if ! command -v apt-get >/dev/null; then
        echo "notas needs: ${apt_packages[*]} (install them with your package manager)" >&2
        exit 1
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_packages[@]}"
fi

# `just` from PyPI's prebuilt wheel (rust-just, pinned in scripts/requirements.txt) into the
# tools' venv: seconds, where `cargo install just` compiled for minutes. Appended to PATH, so
# the recipes' own `just` calls find it and python3 stays the system's.
if ! command -v just >/dev/null; then
    [ -x .dev/venv/bin/just ] || {
        python3 -m venv .dev/venv
        .dev/venv/bin/pip install -q --disable-pip-version-check "$(grep '^rust-just==' scripts/requirements.txt)"
    }
    export PATH="$PATH:$PWD/.dev/venv/bin"
fi

# nisshi, route 3's Kafka-compatible broker for `just dev` and the tests (tansu until 0.6.0,
# renamed upstream). crates.io has its source only, so it is built once per machine, version
# and optimisation (its libsql feature: the SQLite storage engine, durable in one file; the
# default build adds PostgreSQL and S3, which notas does not use), kept outside the checkout,
# and linked into .dev/bin. What is measured or run (dev, loadtest, bench, ...) gets it
# optimised, at opt-level 1: at most what a release build took, 1,300 CPU-seconds. The tests'
# broker carries little load and gets it unoptimised, 570 CPU-seconds, unless the optimised
# one is there already.
# --ignore-rust-version: nisshi 0.8.1 declares no rust-version, but it depends on rama 0.4.0,
# which declares 1.96.0, one above the stable rustc this was written with (1.95.0). It
# compiles with 1.95; without the flag cargo refuses to build rama.
# It builds in the background, holding .dev/nisshi-build.lock: the recipes that run the broker
# wait for it (`_broker`), the rest (the lint, the workspace's build) go on meanwhile.
needs_broker=false
for recipe in "$@"; do [ "$recipe" = lint ] || needs_broker=true; done
if $needs_broker; then
    nisshi_version=0.8.1
    nisshi_cache="${XDG_CACHE_HOME:-$HOME/.cache}/notas"
    nisshi_home="$nisshi_cache/nisshi-$nisshi_version"
    opt_level=1
    case " $* " in *" test "* | *" test-rust "* | *" e2e "* | *" smoke "* | *" chaos "*)
        [ -x "$nisshi_home/bin/nisshi" ] || { nisshi_home="$nisshi_cache/nisshi-$nisshi_version-unoptimised"; opt_level=0; } ;;
    esac
    mkdir -p .dev/bin
    if [ -x "$nisshi_home/bin/nisshi" ]; then
        ln -sf "$nisshi_home/bin/nisshi" .dev/bin/nisshi
    else
        echo "bootstrap: building nisshi $nisshi_version (opt-level $opt_level) once for this machine, in the background (.dev/nisshi-build.log)"
        # The lock is taken here, so that no recipe can look before the build holds it; the
        # build's processes inherit it and it is released when the last of them exits.
        exec 9> .dev/nisshi-build.lock
        flock 9
        rm -f .dev/bin/nisshi
        (
            target="$(mktemp -d)"
            # No LTO and many codegen units: the build's time, not the broker's, is what they cost.
            CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt_level CARGO_PROFILE_RELEASE_LTO=false \
                CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
                CARGO_PROFILE_RELEASE_INCREMENTAL=false CARGO_TARGET_DIR="$target" \
                cargo install nisshi --version "$nisshi_version" --locked --ignore-rust-version --quiet \
                --no-default-features --features libsql --root "$nisshi_home"
            rm -rf "$target"
            ln -sf "$nisshi_home/bin/nisshi" .dev/bin/nisshi
        ) > .dev/nisshi-build.log 2>&1 &
        exec 9>&-
    fi
fi
echo "bootstrap: $SECONDS s"

exec just "$@"
