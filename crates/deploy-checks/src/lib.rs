//! Offline checks of the deployment declarations, which need a cluster, Docker, a Nix store
//! or a Google Cloud project to run and so cannot run in CI: see `tests/`.
//!
//! - `tests/manifests.rs`: what `just up` and `just deploy-gke` apply, rendered by
//!   `scripts/cluster/overlay.py`, validated against the Kubernetes schemas, pinned with
//!   insta snapshots, and held to the design's invariants and to what admits it
//!   (ingress-nginx's webhook, the NetworkPolicies, GKE's Gateway, Cloud Run, GMP's
//!   PodMonitoring), and what scrapes notas' metrics (Prometheus' relabelling on kind,
//!   PodMonitorings on GKE).
//! - `tests/dashboards.rs`: the Grafana dashboards; each query of those tagged `cluster`
//!   (which the local Prometheus cannot answer) against the metric and label facts of the
//!   exporters that serve them, and against what the kind rendering makes them export.
//! - `tests/nix.rs`: every `.nix` file parses, and the flake evaluates for every system
//!   against `nix/upstream.nix`, the model of nixpkgs and crane.
//! - `tests/recipes.rs`: what `scripts/cluster/deploy-gke.sh` must grant and build, and
//!   recipes that run on macOS too.
//! - `tests/contract.rs`: the facts the Python tools (`scripts/common/contract.py`) and the
//!   frontend (`frontend/src/api.ts`) copy from the services, against the services' own
//!   definitions.
//! - `tests/walkthrough.rs`: README's "How a grade flows", followed through the code.
//! - `tests/links.rs`: every relative link in README.md and docs/ resolves, to a file and,
//!   for an `#anchor`, to a heading of it.
