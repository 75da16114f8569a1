//! Cluster settings are complete: every setting whose default works only on the machine a
//! binary runs on (a loopback server, a loopback listening address, a local path), read from
//! the binaries' own clap definitions, is set in each overlay on every workload that runs the
//! binary, to something that exists there: a Service of the rendering with that port (and a
//! NetworkPolicy that lets the flow in), an address outside the cluster, a port the container
//! declares, a mounted path. A loopback server is legitimate only where a sidecar of the same
//! pod serves it: the Cloud SQL Auth Proxy's `--port` on GKE.

mod common;

use common::cluster::*;
use common::{CLUSTERS, name, objects, of_kind, strings};
use serde_json::Value;
use std::net::SocketAddr;

#[test]
fn the_binaries_have_local_only_defaults_to_check() {
    // The check reads them from clap; this keeps it from passing on an empty list.
    let settings = local_only_settings();
    for (binary, settings) in &settings {
        assert!(
            settings.iter().any(|s| s.local == Local::Listen),
            "{binary}: {settings:?}"
        );
    }
    let servers = settings
        .values()
        .flatten()
        .filter(|s| s.local == Local::Server);
    assert!(servers.count() >= 4, "{settings:?}");
}

/// The port a sidecar of the pod serves on loopback for the app: the Cloud SQL Auth Proxy's
/// `--port` (GoogleCloudPlatform/cloud-sql-proxy v2, `cmd/root.go`; k8s/components/cloud-sql-proxy).
fn sidecar_ports(workload: &Value) -> Vec<u64> {
    containers(workload)
        .into_iter()
        .filter(|c| c["name"] == "cloud-sql-proxy")
        .flat_map(|c| strings(&c["args"]).filter_map(|a| a.strip_prefix("--port=")?.parse().ok()))
        .collect()
}

/// What is wrong with one setting of one container, if anything.
fn problem(
    objects: &[Value],
    workload: &Value,
    container: &Value,
    setting: &Setting,
    value: &str,
) -> Option<String> {
    match setting.local {
        Local::Server => url_addresses(value).into_iter().find_map(|(host, port)| {
            if is_loopback(&host) {
                (!sidecar_ports(workload).contains(&port))
                    .then(|| format!("nothing in the pod serves {host}:{port}"))
            } else if host.parse::<std::net::IpAddr>().is_ok() {
                None // outside the cluster (Memorystore): the NetworkPolicies are checked below
            } else {
                let service = of_kind(objects, "Service")
                    .into_iter()
                    .find(|o| name(o) == host);
                match service {
                    None => Some(format!("no Service {host}")),
                    Some(s) => (!s["spec"]["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["port"] == port))
                    .then(|| format!("Service {host} has no port {port}")),
                }
            }
        }),
        Local::Listen => {
            let address: SocketAddr = value.parse().ok()?;
            let mut declared = container["ports"].as_array().into_iter().flatten();
            (!address.ip().is_unspecified()
                || !declared.any(|p| p["containerPort"] == address.port()))
            .then(|| "not every interface, or a port the container does not declare".to_owned())
        }
        Local::Path => {
            let mut mounts = container["volumeMounts"].as_array().into_iter().flatten();
            let mounted = mounts.any(|m| {
                let at = m["mountPath"].as_str().unwrap();
                value == at || value.starts_with(&format!("{at}/"))
            });
            (!mounted).then(|| "not under a volume mounted in the container".to_owned())
        }
    }
}

#[test]
fn cluster_settings_are_complete() {
    let settings = local_only_settings();
    let mut problems = vec![];
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for w in workloads(&objects).into_iter().filter(|w| is_notas(w)) {
            for c in containers(w) {
                let Some(binary) = binary_of(c) else { continue };
                let environment = environment(&objects, rendering, c);
                for s in settings[binary].iter().filter(|s| reads(c, &s.variable)) {
                    let what = format!("{rendering}: {} ({binary}) {}", name(w), s.variable);
                    match environment.get(&s.variable) {
                        None => problems.push(format!(
                            "{what} is left at its default {}, which only its own pod or container has",
                            s.default
                        )),
                        Some(value) => problems.extend(
                            problem(&objects, w, c, s, value).map(|p| format!("{what} = {value}: {p}")),
                        ),
                    }
                }
            }
        }
        // And the NetworkPolicies let each of those connections in.
        let policies = of_kind(&objects, "NetworkPolicy");
        for connection in connections(&objects, rendering) {
            for f in connection_flows(&objects, &connection) {
                let port_name = (!f.port.1.is_empty()).then_some(f.port.1.as_str());
                if !admitted(&policies, &f.from, &f.to, (f.port.0, port_name), f.protocol) {
                    problems.push(format!(
                        "{rendering}: {} is dropped by the NetworkPolicies",
                        f.what
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
