# flake.nix evaluated against nix/upstream.nix (nixpkgs and crane as the flake uses them),
# with Debian's Nix 2.8: what the flake builds for each system, forced all the way down,
# so a missing attribute, an unknown argument or a lock entry importNpmLock cannot fetch
# fails here as it would in `nix build` and `nix develop`.
{ repo, ifd, tracked }:
let
  model = import (repo + "/nix/upstream.nix") { inherit ifd tracked; root = repo; };
  flake = import (repo + "/flake.nix");
  outputs = flake.outputs { self = outputs; inherit (model) nixpkgs crane; };
  forced = x: builtins.deepSeq x true;
in
{
  evaluated = forced { inherit (outputs) packages checks devShells; };
  packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
  checks = builtins.mapAttrs (_: builtins.attrNames) outputs.checks;
  # result/ of `nix build`: file names, and images.json as scripts/overlay.py reads it.
  results = builtins.mapAttrs (_: p: map (e: e.name) p.default.entries) outputs.packages;
  images = builtins.mapAttrs
    (_: p: builtins.fromJSON (builtins.head (builtins.filter (e: e.name == "images.json") p.default.entries)).path.text)
    outputs.packages;
  # What importNpmLock fetches for the frontend, per lock entry.
  npmSources = outputs.packages.x86_64-linux.frontend.args.npmDeps.sources;
  shells = builtins.mapAttrs (_: s: map (p: p.name) s.default.args.packages) outputs.devShells;
  # The files Nix hands the Rust build (the `src` of nix/rust.nix) and the frontend's
  # (nix/frontend.nix), with the folder they come from: `just nix-sources` builds from them.
  sources = builtins.mapAttrs (_: model.sourceFiles) {
    rust = outputs.packages.x86_64-linux.grpc-server.args.src;
    frontend = outputs.packages.x86_64-linux.frontend.args.src;
  };
}
