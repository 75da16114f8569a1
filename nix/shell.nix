# Every tool the justfile and the README use, on Linux and macOS. The Python tools (Locust,
# the report's libraries) come from PyPI into .dev/venv, pinned by the
# requirements files, the same on every machine: the shell gives Python itself. Route 3's
# broker, nisshi, is not in nixpkgs: scripts/bootstrap.sh builds it (nix/README.md).
{ pkgs }:
let
  inherit (pkgs) lib stdenv;
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
  # The end-to-end tests drive Chromium, which nixpkgs builds for Linux only; on macOS
  # give them a Chromium of your own with CHROMIUM_PATH.
  ++ lib.optionals stdenv.hostPlatform.isLinux [ chromium ];
  # curl's headers for librdkafka's C build (librdkafka issue #5135; nix/rust.nix): the
  # compiler wrapper adds a build input's include/ (pkgs/build-support/cc-wrapper/setup-hook.sh).
  buildInputs = [ pkgs.curl.dev ];
  PROTOC = "${pkgs.protobuf}/bin/protoc";
} // lib.optionalAttrs stdenv.hostPlatform.isLinux {
  CHROMIUM_PATH = "${pkgs.chromium}/bin/chromium";
  # Wheels from PyPI (numpy under matplotlib) load libstdc++, which NixOS keeps out of
  # the default library path.
  LD_LIBRARY_PATH = lib.makeLibraryPath [ stdenv.cc.cc.lib ];
})
