# Every tool the justfile and the README use, on Linux and macOS. The Python tools (Locust,
# the report's libraries) come from PyPI into .dev/venv, pinned by the
# requirements files, the same on every machine: the shell gives Python itself.
{ pkgs }:
let
  inherit (pkgs) lib stdenv;
  # tansu, route 3's Kafka-compatible broker (`just dev`, notas-testkit's TestBroker): nixpkgs
  # master packages 0.6.0 with its libsql engine among its features (pkgs/by-name/ta/tansu/
  # package.nix), added in 2026; whether the pinned release has it is not known here, so
  # the shell offers it where nixpkgs has it, and scripts/bootstrap.sh builds it otherwise.
  tansu = lib.optionals (pkgs ? tansu) [ pkgs.tansu ];
in
pkgs.mkShell ({
  packages = with pkgs; [
    cargo rustc clippy rustfmt rust-analyzer protobuf
    # rdkafka builds its bundled librdkafka with CMake (nix/rust.nix says why).
    cmake
    just nodejs_22 python3
    mariadb redis nginx
    kind kubectl skopeo google-cloud-sdk
    curl
  ]
  ++ tansu
  # The end-to-end tests drive Chromium, which nixpkgs builds for Linux only; on macOS
  # give them a Chromium of your own with CHROMIUM_PATH.
  ++ lib.optionals stdenv.hostPlatform.isLinux [ chromium ];
  # curl's headers for librdkafka's C build (librdkafka issue #5135; nix/rust.nix): the
  # compiler wrapper adds a build input's include/ (pkgs/build-support/cc-wrapper/setup-hook.sh).
  buildInputs = [ pkgs.curl.dev ];
  PROTOC = "${pkgs.protobuf}/bin/protoc";
} // lib.optionalAttrs (tansu != [ ]) {
  # What notas-testkit's TestBroker starts instead of .dev/bin/tansu.
  TANSU = "${pkgs.tansu}/bin/tansu";
} // lib.optionalAttrs stdenv.hostPlatform.isLinux {
  CHROMIUM_PATH = "${pkgs.chromium}/bin/chromium";
  # Wheels from PyPI (numpy under matplotlib) load libstdc++, which NixOS keeps out of
  # the default library path.
  LD_LIBRARY_PATH = lib.makeLibraryPath [ stdenv.cc.cc.lib ];
})
