//! Cluster settings are complete: every setting whose default works only on the machine a
//! binary runs on (a loopback server, a loopback listening address, a local path), read from
//! the binaries' own clap definitions, is set in each overlay on every workload that runs the
//! binary, to something that exists there: a Service of the rendering with that port, or one
//! the Strimzi operator makes of it (KAFKA_BROKERS: the Kafka cluster's bootstrap Service,
//! tests/common/strimzi.rs), and a NetworkPolicy that lets the flow in; an address outside
//! the cluster, a port the container declares, a mounted path. A loopback server is legitimate only where a sidecar of the same
//! pod serves it: the Cloud SQL Auth Proxy's `--port` on GKE.
//!
//! And the local settings' list, `.env.example`, names every variable the binaries read with
//! each binary's default, and nothing else.

mod common;

use common::cluster::*;
use common::strimzi::with_operands;
use common::{CLUSTERS, name, objects, of_kind, repo, strings};
use serde_json::Value;
use std::{collections::BTreeSet, net::SocketAddr};

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

/// A loopback `host:port` default is an address to listen on unless its setting is one of
/// SERVER_LISTS: a new list of servers without a scheme (one more broker setting, say) must
/// be added there, or the cluster checks would ask it to listen on every interface.
#[test]
fn every_loopback_address_is_known() {
    let mut found = vec![];
    for (binary, variable, default) in defaults() {
        let loopback = default
            .split(',')
            .all(|a| a.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback()));
        if loopback {
            assert!(
                variable.ends_with("_ADDR") || SERVER_LISTS.contains(&variable.as_str()),
                "{binary} {variable}={default}: an address to listen on is named *_ADDR; \
                 a list of servers belongs in SERVER_LISTS"
            );
            found.push((binary, variable));
        }
    }
    // queue-api's and grade-consumer's KAFKA_BROKERS, and the listening addresses.
    assert!(
        found.iter().filter(|(_, v)| v == "KAFKA_BROKERS").count() == 2,
        "{found:?}"
    );
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
        let objects = with_operands(objects(rendering));
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

/// A `rediss://` REDIS_URL (GKE's Memorystore with in-transit encryption, as deploy-gke.sh
/// writes it) is trusted only through its server CA: every container given one reads
/// REDIS_CA_FILE from the Secret's `ca.pem`, mounted (k8s/components/memorystore).
#[test]
fn every_rediss_url_comes_with_its_ca() {
    let mut checked = BTreeSet::new();
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for w in workloads(&objects).into_iter().filter(|w| is_notas(w)) {
            let volumes = w["spec"]["template"]["spec"]["volumes"].as_array();
            for c in containers(w) {
                let environment = environment(&objects, rendering, c);
                let Some(url) = environment.get("REDIS_URL") else {
                    continue;
                };
                if !url.starts_with("rediss://") {
                    continue;
                }
                let what = format!("{rendering}: {}", name(w));
                let file = environment
                    .get("REDIS_CA_FILE")
                    .unwrap_or_else(|| panic!("{what}: rediss:// without REDIS_CA_FILE"));
                let mount = c["volumeMounts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| file.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap())))
                    .unwrap_or_else(|| panic!("{what}: {file} is under no mount"));
                let volume = volumes
                    .into_iter()
                    .flatten()
                    .find(|v| v["name"] == mount["name"])
                    .unwrap();
                let item = volume["secret"]["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|i| i["key"] == "ca.pem");
                assert!(
                    volume["secret"]["secretName"] == "notas-redis"
                        && item.is_some_and(
                            |i| file.ends_with(&format!("/{}", i["path"].as_str().unwrap()))
                        ),
                    "{what}: {file} is not notas-redis' ca.pem"
                );
                checked.insert(name(w).to_owned());
            }
        }
    }
    // Every writer or reader of the live view on GKE, and the monitor.
    assert_eq!(
        checked,
        ["dashboard-api", "grade-consumer", "monitor", "redis-api"]
            .map(String::from)
            .into(),
    );
}

/// What the test suite reads (`notas-testkit`), listed in `.env.example` under "tests only".
const TEST_VARIABLES: [&str; 2] = ["TEST_MYSQL_URL", "TEST_REDIS_URL"];

#[test]
fn env_example_lists_every_variable_with_its_default_and_nothing_else() {
    let text = std::fs::read_to_string(repo().join(".env.example")).unwrap();
    // `NAME=value  # note`, or commented out (`# LISTEN_ADDR=...`) where each binary has its own.
    let listed: BTreeSet<(&str, &str)> = text
        .lines()
        .filter_map(|line| {
            let line = line.strip_prefix('#').unwrap_or(line).trim_start();
            let (name, rest) = line.split_once('=')?;
            let is_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            is_name.then(|| (name, rest.split('#').next().unwrap().trim()))
        })
        .collect();
    let names: BTreeSet<&str> = listed.iter().map(|(name, _)| *name).collect();

    let mut problems = vec![];
    let testkit = std::fs::read_to_string(repo().join("crates/notas-testkit/src/lib.rs")).unwrap();
    let read: BTreeSet<String> = variables_read().into_values().flatten().collect();
    for name in &names {
        let of_tests = TEST_VARIABLES.contains(name) && testkit.contains(name);
        if !read.contains(*name) && !of_tests {
            problems.push(format!("{name} is listed, but nothing reads it"));
        }
    }
    for name in read.iter().filter(|n| !names.contains(n.as_str())) {
        problems.push(format!("{name} is read, but not listed"));
    }
    for (binary, name, default) in defaults() {
        if names.contains(name.as_str()) && !listed.contains(&(name.as_str(), default.as_str())) {
            problems.push(format!(
                "{name}: {binary}'s default {default:?} is not listed"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Secrets never print: a store's URL may carry a password, so `--help` never shows the
/// value the environment gives it (clap shows `[env: NAME=value]` otherwise).
#[test]
fn help_hides_the_values_of_the_stores_urls() {
    let mut checked = 0;
    for (binary, command) in commands() {
        for arg in command.get_arguments() {
            let Some(variable) = arg.get_env().map(|v| v.to_string_lossy().into_owned()) else {
                continue;
            };
            if variable.ends_with("MYSQL_URL") || variable.ends_with("REDIS_URL") {
                checked += 1;
                assert!(
                    arg.is_hide_env_values_set(),
                    "{binary} --help would show {variable}'s value"
                );
            }
        }
    }
    // MYSQL_URL ×3, APP_MYSQL_URL, REDIS_URL ×3.
    assert!(checked >= 7, "only {checked} store URLs found");
}

/// The edge refuses a body over the very limit the services refuse (413 either way): the
/// Ingress's `proxy-body-size` (nginx's size, `k` = 1024) is BODY_LIMIT_BYTES' default.
#[test]
fn the_edges_body_limit_is_the_services() {
    let objects = objects("kind");
    let sizes: BTreeSet<u64> = of_kind(&objects, "Ingress")
        .iter()
        .filter_map(|i| {
            i["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"].as_str()
        })
        .map(|size| match size.strip_suffix(['k', 'K']) {
            Some(kib) => kib.parse::<u64>().unwrap() * 1024,
            None => size.parse().unwrap(),
        })
        .collect();
    let defaults: BTreeSet<u64> = commands()
        .values()
        .flat_map(|c| c.get_arguments())
        .filter(|a| a.get_env().is_some_and(|v| v == "BODY_LIMIT_BYTES"))
        .map(|a| a.get_default_values()[0].to_string_lossy().parse().unwrap())
        .collect();
    assert_eq!(sizes.len(), 1, "one body limit at the edge: {sizes:?}");
    assert_eq!(
        sizes, defaults,
        "the edge's body limit and the services' BODY_LIMIT_BYTES"
    );
}
