# The Rust workspace with crane: dependencies built once (buildDepsOnly), then one package
# per binary from a source set that keeps proto/ and the SQL migrations, without the fuzz
# targets (their own workspace and lock, outside the build).
{ pkgs, crane, version }:
let
  craneLib = crane.mkLib pkgs;
  root = ./..;
  src = pkgs.lib.fileset.toSource {
    inherit root;
    fileset = pkgs.lib.fileset.difference
      (pkgs.lib.fileset.unions [
        (craneLib.fileset.commonCargoSources root)
        ../proto
        ../crates/notas-core/migrations
        (pkgs.lib.fileset.fileFilter (file: file.hasExt "snap") ../crates)
      ])
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
