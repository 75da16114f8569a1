# flake.nix evaluated against nix/upstream.nix (nixpkgs and crane as the flake uses them),
# with Debian's Nix 2.8: what the flake builds for each system, forced all the way down,
# so a missing attribute, an unknown argument or a lock entry importNpmLock cannot fetch
# fails here as it would in `nix build` and `nix develop`. `absent`: packages the model
# leaves out (nix/upstream.nix).
{ repo, ifd, tracked, absent ? [ ] }:
let
  model = import (repo + "/nix/upstream.nix") { inherit ifd tracked absent; root = repo; };
  flake = import (repo + "/flake.nix");
  outputs = flake.outputs { self = outputs; inherit (model) nixpkgs crane; };
  forced = x: builtins.deepSeq x true;
  linux = outputs.packages.x86_64-linux;
  having = test: builtins.removeAttrs linux (builtins.filter (n: !(test linux.${n})) (builtins.attrNames linux));
  # The Rust binaries: crane's buildPackage, the packages built on cargoArtifacts.
  rustBinaries = having (p: p.args.cargoArtifacts or null != null);
  # An input of a build: the package, and the output of it that stdenv hands the build.
  input = p: { inherit (p) name; output = model.inputOutput p; };
  inputs = args: {
    native = map input (args.nativeBuildInputs or [ ]);
    build = map input (args.buildInputs or [ ]);
  };
in
{
  evaluated = forced { inherit (outputs) packages checks devShells; };
  packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
  checks = builtins.mapAttrs (_: builtins.attrNames) outputs.checks;
  # result/ of `nix build`: file names, and images.json as scripts/cluster/overlay.py reads it.
  results = builtins.mapAttrs (_: p: map (e: e.name) p.default.entries) outputs.packages;
  images = builtins.mapAttrs
    (_: p: builtins.fromJSON (builtins.head (builtins.filter (e: e.name == "images.json") p.default.entries)).path.text)
    outputs.packages;
  # The Rust binaries (crane's buildPackage): package -> its cargo arguments.
  binaries = builtins.mapAttrs (_: p: p.args.cargoExtraArgs) rustBinaries;
  # What each image runs: image -> its Entrypoint.
  entrypoints = builtins.mapAttrs (_: i: i.config.Entrypoint) (having (p: p ? imageName));
  # Every crane derivation that compiles the workspace, with its inputs and flags.
  rustBuilds =
    let
      described = args: inputs args // { dontUseCmakeConfigure = args.dontUseCmakeConfigure or false; };
      checks = outputs.checks.x86_64-linux;
    in
    {
      deps = described linux.grpc-server.args.cargoArtifacts.args;
      clippy = described checks.clippy.args;
      unit-tests = described checks.unit-tests.args;
    } // builtins.mapAttrs (_: p: described p.args) rustBinaries;
  # What importNpmLock fetches for the frontend, per lock entry.
  npmSources = linux.frontend.args.npmDeps.sources;
  shells = builtins.mapAttrs
    (_: s: {
      packages = map (p: p.name) s.default.args.packages;
      inherit (inputs s.default.args) build;
      # The variables it sets: every other mkShell argument.
      variables = builtins.attrNames (builtins.removeAttrs s.default.args [ "packages" "buildInputs" "nativeBuildInputs" ]);
    })
    outputs.devShells;
  # The files Nix hands the Rust build (the `src` of nix/rust.nix) and the frontend's
  # (nix/frontend.nix), with the folder they come from: `just nix-sources` builds from them.
  sources = builtins.mapAttrs (_: model.sourceFiles) {
    rust = linux.grpc-server.args.src;
    frontend = linux.frontend.args.src;
  };
}
