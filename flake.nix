{
  description = "notas: grade registration with two ingestion routes compared under load";

  # No flake.lock is committed (it cannot be produced without network here): inputs follow
  # release branches, and `nix flake lock` once on your machine pins them.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, crane, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = import nixpkgs { inherit system; };
        version = "0.1.0";
        rust = import ./nix/rust.nix { inherit pkgs crane version; };
        frontend = import ./nix/frontend.nix { inherit pkgs version; };
        images = import ./nix/images.nix { inherit pkgs version frontend; binaries = rust.binaries; };
      in
      {
        # `nix build` gives every image; `nix build .#grpc-server-image` one of them.
        packages = rust.binaries // images // {
          inherit frontend;
          default = images.all-images;
        };
        # `nix flake check`: formatting, clippy and the tests that need no database.
        checks = rust.checks;
        devShells.default = import ./nix/shell.nix { inherit pkgs; };
      });
}
