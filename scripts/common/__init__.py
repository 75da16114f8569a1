"""The parts every tool shares, written once: the facts shared with the Rust services
(contract), the grades a load posts (grades), a service's /metrics (metrics), a Prometheus
server's API (prometheus), the stores (stores), route 3's broker (broker) and the stack's
processes (processes)."""
