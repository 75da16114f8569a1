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
    nativeBuildInputs = [ pkgs.protobuf ];
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
  names = [ "grpc-server" "grpc-client" "redis-api" "dashboard-api" "monitor" ];
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
