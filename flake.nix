{
  description = "notas: grade registration with two ingestion routes compared under load";

  # nixpkgs follows its release branch until flake.lock pins a commit of it; crane is pinned
  # by its release tag. The Nix and nixpkgs versions crane needs, and how the lock arrives:
  # nix/README.md.
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane/v0.23.4";
  };

  outputs = { self, nixpkgs, crane }:
    let
      inherit (nixpkgs) lib;
      version = "0.1.0";
      linux = [ "x86_64-linux" "aarch64-linux" ];
      # x86_64-darwin: nixpkgs 26.05 is the last release that builds for it.
      darwin = [ "aarch64-darwin" "x86_64-darwin" ];
      forEach = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # Everything that runs in a cluster: the services, the dashboard bundle, their images.
      build = pkgs:
        let
          rust = import ./nix/rust.nix { inherit pkgs crane version; };
          frontend = import ./nix/frontend.nix { inherit pkgs version; };
          images = import ./nix/images.nix { inherit pkgs frontend; binaries = rust.binaries; };
        in
        rust // { inherit frontend images; };
    in
    {
      # `nix build` gives every image (result/<service>.tar and result/images.json);
      # `nix build .#grpc-server-image` one of them.
      packages =
        forEach linux (pkgs:
          let notas = build pkgs; in
          notas.binaries // notas.images // {
            inherit (notas) frontend;
            default = notas.images.all-images;
          })
        # A Mac builds the images of the Linux that its kind nodes run (Docker Desktop's VM
        # has the Mac's CPU): this needs a Linux builder (nix/README.md).
        // lib.genAttrs darwin (system:
          self.packages.${lib.replaceStrings [ "darwin" ] [ "linux" ] system});

      # `nix flake check`: formatting, clippy and the tests that need no database.
      checks = forEach linux (pkgs: (build pkgs).checks);

      devShells = forEach (linux ++ darwin) (pkgs: {
        default = import ./nix/shell.nix { inherit pkgs; };
      });
    };
}
