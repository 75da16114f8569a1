//! Offline checks of the deployment declarations, which need a cluster, Docker or a Nix
//! store to run and so cannot run in CI: see `tests/`.
//!
//! - `tests/manifests.rs`: every overlay and scenario under `k8s/` rendered with
//!   `kubectl kustomize`, validated against the Kubernetes schemas (`kubernetes-validate`),
//!   pinned with insta snapshots, and held to the invariants of the design (namespace, the
//!   50/50 canary, an HPA per Deployment, hardening, images the flake builds, environment
//!   variables the binaries read).
//! - `tests/nix.rs`: every `.nix` file parses (`nix-instantiate --parse`).
