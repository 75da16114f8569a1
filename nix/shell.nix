# Every tool the justfile and the README use.
{ pkgs }:
pkgs.mkShell {
  packages = with pkgs; [
    cargo rustc clippy rustfmt rust-analyzer
    protobuf just
    kind kubectl kustomize skopeo google-cloud-sdk
    python3 python3Packages.locust python3Packages.honcho
    mariadb redis nginx
    nodejs_22 chromium
  ];
  PROTOC = "${pkgs.protobuf}/bin/protoc";
}
