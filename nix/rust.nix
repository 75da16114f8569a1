# The Rust workspace with crane: dependencies built once (buildDepsOnly), then one package
# per binary, from a source set without the fuzz targets (their own workspace and lock,
# outside the build).
{ pkgs, crane, version }:
let
  craneLib = crane.mkLib pkgs;
  root = ./..;
  # crane's commonCargoSources keeps only Cargo.toml, Cargo.lock, *.rs and *.toml (crane
  # lib/fileset/commonCargoSources.nix), and a crate compiles in other files too: the Lua
  # scripts redis-api's include_str! reads, the SQL migrations, the test snapshots. So every
  # file under crates/ (a path is all files under it: nixpkgs lib/fileset/default.nix), and
  # proto/, which notas-proto's build script compiles. `just nix-sources` builds from it.
  src = pkgs.lib.fileset.toSource {
    inherit root;
    fileset = pkgs.lib.fileset.difference
      (pkgs.lib.fileset.unions [ (craneLib.fileset.commonCargoSources root) ../crates ../proto ])
      ../crates/fuzz;
  };
  common = {
    inherit src version;
    pname = "notas";
    strictDeps = true;
    # Route 3's rdkafka builds its bundled librdkafka (2.12) with CMake (its `cmake-build`
    # feature, root Cargo.toml): librdkafka's own ./configure starts with
    # `#!/usr/bin/env bash`, which the sandbox lacks. librdkafka's rdkafka_conf.c includes
    # <curl/curl.h> whenever WITH_OAUTHBEARER_OIDC is defined, and CMake's config.h always
    # defines it, 0 here (librdkafka issue #5135): curl's headers must be there, though
    # nothing of curl is linked. They are in curl's `dev` output (nixpkgs
    # pkgs/by-name/cu/curlMinimal/package.nix: outputs bin dev out man devdoc; the headers
    # go to outputDev, pkgs/build-support/setup-hooks/multiple-outputs.sh), which the C
    # compiler wrapper adds with -isystem (pkgs/build-support/cc-wrapper/setup-hook.sh).
    nativeBuildInputs = [ pkgs.protobuf pkgs.cmake ];
    buildInputs = [ pkgs.curl.dev ];
    # cmake's setup hook makes cmakeConfigurePhase the configure phase unless the derivation
    # sets one or this flag (nixpkgs pkgs/by-name/cm/cmake/setup-hook.sh). crane's
    # mkCargoDerivation already sets a configurePhase that does nothing for this reason
    # (crane issue #104, CHANGELOG 0.7.0, checks' simpleWithCmake); the flag says it here
    # too, so the hook leaves cargo alone whatever crane's default becomes. The cargo build
    # runs CMake itself, through rdkafka-sys' build script.
    dontUseCmakeConfigure = true;
    PROTOC = "${pkgs.protobuf}/bin/protoc";
  };
  cargoArtifacts = craneLib.buildDepsOnly common;
  binary = name: craneLib.buildPackage (common // {
    inherit cargoArtifacts;
    pname = name;
    cargoExtraArgs = "--locked -p ${name}";
    # The tests need MariaDB and Redis; they run in CI and in `just test`, not in the sandbox.
    doCheck = false;
    meta.mainProgram = name;
  });
  # Every binary of the workspace (deploy-checks tests/nix.rs holds this list to it).
  names = [ "grpc-server" "grpc-client" "redis-api" "dashboard-api" "monitor" "queue-api" "grade-consumer" ];
in
{
  binaries = pkgs.lib.genAttrs names binary;
  checks = {
    fmt = craneLib.cargoFmt { inherit src; };
    clippy = craneLib.cargoClippy (common // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--workspace --all-targets -- -D warnings";
    });
    # The unit tests (no database): the domain, the batcher, the URL helpers.
    unit-tests = craneLib.cargoTest (common // {
      inherit cargoArtifacts;
      cargoTestExtraArgs = "--workspace --lib";
    });
  };
}
