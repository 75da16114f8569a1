//! The rendered cluster as the checks read it: workloads and their containers, what each
//! notas binary reads, where its settings point, and the NetworkPolicies' model of who may
//! open a connection to whom.

use super::{IMAGES, NAMESPACE, name, of_kind, repo, strings};
use clap::CommandFactory;
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
};

/// The objects that run pods: the rendering's, and the broker's StrimziPodSets as
/// `strimzi::operands` models them.
pub fn workloads(objects: &[Value]) -> Vec<&Value> {
    let kinds = [
        "Deployment",
        "DaemonSet",
        "Job",
        "StatefulSet",
        "StrimziPodSet",
    ];
    objects
        .iter()
        .filter(|o| kinds.contains(&o["kind"].as_str().unwrap()))
        .collect()
}

/// The containers of a workload's pod template, sidecars (init containers) included.
pub fn containers(workload: &Value) -> Vec<&Value> {
    let spec = &workload["spec"]["template"]["spec"];
    [&spec["initContainers"], &spec["containers"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .collect()
}

/// `registry/path/NAME:tag` or `...NAME@sha256:...` → `NAME`.
pub fn image_name(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap();
    last.split(['@', ':']).next().unwrap()
}

pub fn is_notas(o: &Value) -> bool {
    o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "notas"
}

/// The containers that run a notas image (not the stores', the proxy's or GMP's frontend,
/// whose image is also named `frontend`), with the name of their workload.
pub fn notas_containers(objects: &[Value]) -> Vec<(String, &Value)> {
    workloads(objects)
        .into_iter()
        .filter(|w| is_notas(w))
        .flat_map(|o| {
            containers(o)
                .into_iter()
                .map(move |c| (name(o).to_owned(), c))
        })
        .filter(|(_, c)| IMAGES.contains(&image_name(c["image"].as_str().unwrap())))
        .collect()
}

/// One end of a connection as NetworkPolicies see it.
#[derive(Debug, Clone)]
pub enum Peer {
    /// A pod: its namespace, the namespace's labels and its own labels.
    Pod {
        namespace: String,
        namespace_labels: Value,
        labels: Value,
        name: String,
    },
    /// Addresses outside the cluster: an IPv4 range, admitted only if a rule covers it all.
    Addresses(u32, u32),
}

pub fn cidr(text: &str) -> (u32, u32) {
    let (ip, bits) = text.split_once('/').unwrap_or((text, "32"));
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    let bits: u32 = bits.parse().unwrap();
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    let start = u32::from(ip) & mask;
    (start, start | !mask)
}

/// matchLabels and matchExpressions of a label selector.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels[k].as_str();
    let by_labels = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let by_expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = label(e["key"].as_str().unwrap());
            let values: Vec<&str> = strings(&e["values"]).collect();
            match e["operator"].as_str().unwrap() {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => !value.is_some_and(|v| values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => panic!("operator {other}"),
            }
        });
    by_labels && by_expressions
}

/// Does a rule's peer (`from` / `to` entry) match this end, for a policy in NAMESPACE?
pub fn peer_matches(entry: &Value, peer: &Peer) -> bool {
    match peer {
        Peer::Addresses(start, end) => {
            let Some(block) = entry["ipBlock"].as_object() else {
                return false;
            };
            let (s, e) = cidr(block["cidr"].as_str().unwrap());
            let excepted = strings(&block.get("except").cloned().unwrap_or_default()).any(|x| {
                let (xs, xe) = cidr(x);
                xs <= *end && *start <= xe
            });
            s <= *start && *end <= e && !excepted
        }
        Peer::Pod {
            namespace,
            namespace_labels,
            labels,
            ..
        } => {
            if entry.get("ipBlock").is_some() {
                return false;
            }
            let namespace_ok = match entry.get("namespaceSelector") {
                Some(selector) => selects(selector, namespace_labels),
                None => namespace == NAMESPACE,
            };
            let pod_ok = entry.get("podSelector").is_none_or(|s| selects(s, labels));
            namespace_ok && pod_ok
        }
    }
}

/// Whether the policies let `from` open a connection to `to` on `port` (its number and,
/// on a pod, its name) over `protocol`.
pub fn admitted(
    policies: &[&Value],
    from: &Peer,
    to: &Peer,
    port: (u64, Option<&str>),
    protocol: &str,
) -> bool {
    let port_ok = |rule: &Value| {
        rule["ports"].as_array().is_none_or(|ports| {
            ports.iter().any(|p| {
                p["protocol"].as_str().unwrap_or("TCP") == protocol
                    && (p["port"].is_null()
                        || p["port"].as_u64() == Some(port.0)
                        || (p["port"].as_str().is_some() && p["port"].as_str() == port.1))
            })
        })
    };
    let side = |direction: &str, own: &Peer, other: &Peer| -> bool {
        let Peer::Pod {
            namespace, labels, ..
        } = own
        else {
            return true;
        };
        if namespace != NAMESPACE {
            return true; // not ours: its own namespace's policies, if any
        }
        let governing: Vec<_> = policies
            .iter()
            .filter(|p| {
                selects(&p["spec"]["podSelector"], labels)
                    && strings(&p["spec"]["policyTypes"]).any(|t| t == direction)
            })
            .collect();
        let (rules, peers) = if direction == "Ingress" {
            ("ingress", "from")
        } else {
            ("egress", "to")
        };
        governing.is_empty()
            || governing.iter().any(|p| {
                p["spec"][rules]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        // No peers, or an empty list of them: every source (or destination).
                        port_ok(rule)
                            && rule[peers].as_array().is_none_or(|entries| {
                                entries.is_empty() || entries.iter().any(|e| peer_matches(e, other))
                            })
                    })
            })
    };
    side("Egress", from, to) && side("Ingress", to, from)
}

/// The pods of each workload, as peers, with their container ports (number, name).
pub fn pods(objects: &[Value]) -> Vec<(Peer, Vec<(u64, String)>)> {
    let namespace_labels = serde_json::json!({ "kubernetes.io/metadata.name": NAMESPACE });
    workloads(objects)
        .into_iter()
        .map(|w| {
            let ports = containers(w)
                .into_iter()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .map(|p| {
                    (
                        p["containerPort"].as_u64().unwrap(),
                        p["name"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            let peer = Peer::Pod {
                namespace: NAMESPACE.into(),
                namespace_labels: namespace_labels.clone(),
                labels: w["spec"]["template"]["metadata"]["labels"].clone(),
                name: name(w).into(),
            };
            (peer, ports)
        })
        .collect()
}

/// The pods behind a Service port, each with the container port it reaches.
pub fn endpoints(objects: &[Value], service: &str, port: u64) -> Vec<(Peer, (u64, String))> {
    let service = of_kind(objects, "Service")
        .into_iter()
        .find(|s| name(s) == service)
        .unwrap_or_else(|| panic!("no Service {service}"));
    let spec_port = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == port)
        .unwrap_or_else(|| panic!("{}: no port {port}", name(service)));
    let target = &spec_port["targetPort"];
    let selector = serde_json::json!({ "matchLabels": service["spec"]["selector"] });
    let found: Vec<_> = pods(objects)
        .into_iter()
        .filter(|(peer, _)| matches!(peer, Peer::Pod { labels, .. } if selects(&selector, labels)))
        .map(|(peer, ports)| {
            let container_port = ports
                .into_iter()
                .find(|(number, port_name)| {
                    target.as_str() == Some(port_name)
                        || target.as_u64() == Some(*number)
                        || (target.is_null() && *number == port)
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{}: targetPort {target} matches no container port",
                        name(service)
                    )
                });
            (peer, container_port)
        })
        .collect();
    assert!(
        !found.is_empty(),
        "Service {} selects no pod",
        name(service)
    );
    found
}

pub fn pod_named<'a>(pods: &'a [(Peer, Vec<(u64, String)>)], workload: &str) -> &'a Peer {
    &pods
        .iter()
        .find(|(p, _)| matches!(p, Peer::Pod { name, .. } if name == workload))
        .unwrap()
        .0
}

/// `scheme://user@host:port/...` → (host, port).
pub fn host_port(url: &str) -> (String, u64) {
    url_addresses(url).remove(0)
}

/// A pod of another namespace, e.g. the ingress controller.
pub fn pod_of(namespace: &str, labels: Value) -> Peer {
    Peer::Pod {
        namespace: namespace.into(),
        namespace_labels: serde_json::json!({ "kubernetes.io/metadata.name": namespace }),
        labels,
        name: format!("a pod of {namespace}"),
    }
}

pub fn addresses(range: &str) -> Peer {
    let (start, end) = cidr(range);
    Peer::Addresses(start, end)
}

/// A connection a workload really needs, as NetworkPolicies see it.
pub struct Flow {
    pub what: String,
    pub from: Peer,
    pub to: Peer,
    /// The destination port's number and, on a pod, its name.
    pub port: (u64, String),
    pub protocol: &'static str,
}

/// The flows from `from` to the pods behind a Service port.
pub fn service_flows(
    objects: &[Value],
    what: String,
    from: &Peer,
    service: &str,
    port: u64,
) -> Vec<Flow> {
    endpoints(objects, service, port)
        .into_iter()
        .map(|(to, port)| Flow {
            what: what.clone(),
            from: from.clone(),
            to,
            port,
            protocol: "TCP",
        })
        .collect()
}

// --- What the binaries read, and where their settings point ------------------------------

/// Each notas binary's command line (its clap definition), by the image that runs it.
pub fn commands() -> BTreeMap<&'static str, clap::Command> {
    BTreeMap::from([
        ("grpc-server", grpc_server::config::Config::command()),
        ("grpc-client", grpc_client::config::Config::command()),
        ("redis-api", redis_api::config::Config::command()),
        ("queue-api", queue_api::config::Config::command()),
        ("grade-consumer", grade_consumer::config::Config::command()),
        ("dashboard-api", dashboard_api::config::Config::command()),
        ("monitor", monitor::config::Config::command()),
    ])
}

/// Every default a binary's clap definition gives a variable: (binary, variable, default).
pub fn defaults() -> Vec<(&'static str, String, String)> {
    let mut found = vec![];
    for (binary, command) in commands() {
        for argument in command.get_arguments() {
            if let (Some(variable), Some(default)) =
                (argument.get_env(), argument.get_default_values().first())
            {
                let text = |s: &std::ffi::OsStr| s.to_str().unwrap().to_owned();
                found.push((binary, text(variable), text(default)));
            }
        }
    }
    found
}

/// The environment variables each binary reads: its clap arguments' `env`, plus the
/// logging variables of `notas_core::telemetry`.
pub fn variables_read() -> BTreeMap<&'static str, BTreeSet<String>> {
    commands()
        .into_iter()
        .map(|(binary, command)| {
            let mut names: BTreeSet<String> = command
                .get_arguments()
                .filter_map(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
                .collect();
            names.extend(["RUST_LOG".to_owned(), "LOG_FORMAT".to_owned()]);
            (binary, names)
        })
        .collect()
}

/// How a default works only on the machine the binary runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Local {
    /// A URL of a server on this machine: in a pod, only a container of the same pod.
    Server,
    /// A loopback address to listen on: in a pod, nothing outside the pod reaches it.
    Listen,
    /// An absolute path: in a container, the container's own file, not the node's.
    Path,
}

/// A setting whose default is local-only, with its variable and default.
#[derive(Debug)]
pub struct Setting {
    pub variable: String,
    pub default: String,
    pub local: Local,
}

pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Settings that name servers as `host:port[,host:port...]` without a scheme (Kafka's
/// bootstrap servers): their loopback default is a server on this machine, not an address
/// to listen on. `every_loopback_address_is_known` keeps this list complete.
pub const SERVER_LISTS: [&str; 1] = ["KAFKA_BROKERS"];

/// Every setting of every notas binary whose default is local-only, read from the clap
/// definitions: a URL of a loopback host (or a SERVER_LISTS list of them), a loopback socket
/// address, an absolute path.
pub fn local_only_settings() -> BTreeMap<&'static str, Vec<Setting>> {
    commands()
        .into_iter()
        .map(|(binary, command)| {
            let settings = command
                .get_arguments()
                .filter_map(|a| {
                    let variable = a.get_env()?.to_string_lossy().into_owned();
                    let default = a
                        .get_default_values()
                        .first()?
                        .to_string_lossy()
                        .into_owned();
                    let local =
                        if default.contains("://") || SERVER_LISTS.contains(&variable.as_str()) {
                            is_loopback(&url_addresses(&default)[0].0).then_some(Local::Server)
                        } else if let Ok(address) = default.parse::<SocketAddr>() {
                            address.ip().is_loopback().then_some(Local::Listen)
                        } else {
                            default.starts_with('/').then_some(Local::Path)
                        }?;
                    Some(Setting {
                        variable,
                        default,
                        local,
                    })
                })
                .collect();
            (binary, settings)
        })
        .collect()
}

/// The binary a container of a notas workload runs, if any: its image's name.
pub fn binary_of(container: &Value) -> Option<&'static str> {
    let image = image_name(container["image"].as_str()?);
    commands().into_keys().find(|b| *b == image)
}

/// `grpc-server --migrate-only` (the migration Job) applies the migrations and exits: of its
/// settings it reads MySQL's alone (crates/grpc-server/src/main.rs).
pub fn reads(container: &Value, variable: &str) -> bool {
    !strings(&container["args"]).any(|a| a == "--migrate-only")
        || ["MYSQL_URL", "APP_MYSQL_URL"].contains(&variable)
}

/// A URL of the stores' Secrets (`notas-mysql`: `url`, the services', or `migrate-url`;
/// `notas-redis`: `url`), which no rendering holds. On kind `just up` creates them
/// (scripts/cluster/up.sh's `create secret generic NAME ... --from-literal=KEY="..."`); on GKE
/// the operator creates `notas-mysql` as docs/gke.md says (`--from-literal=KEY='...'`) and
/// `just deploy-gke` writes `notas-redis` from the Memorystore instance
/// (`scripts/cluster/memorystore.py`, its tests): here one with AUTH and in-transit encryption.
fn secret_url(rendering: &str, secret: &str, key: &str) -> String {
    if rendering != "kind" && secret == "notas-redis" {
        return "rediss://:auth@10.20.0.3:6378".to_owned();
    }
    let (file, quote) = if rendering == "kind" {
        ("scripts/cluster/up.sh", '"')
    } else {
        ("docs/gke.md", '\'')
    };
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let creation = format!("create secret generic {secret}");
    let after = &text[text
        .find(&creation)
        .unwrap_or_else(|| panic!("{file} creates no {secret}"))..];
    let literal = format!("--from-literal={key}={quote}");
    let start = after
        .find(&literal)
        .unwrap_or_else(|| panic!("{file} gives {secret} no {key}"))
        + literal.len();
    let end = after[start..].find(quote).unwrap();
    after[start..start + end].to_owned()
}

/// What each variable of a container is set to, as its process sees it: a value, a key of
/// one of the rendering's ConfigMaps, or the Secret made outside the rendering.
pub fn environment(
    objects: &[Value],
    rendering: &str,
    container: &Value,
) -> BTreeMap<String, String> {
    let config_map = |reference: &Value| -> String {
        let map = of_kind(objects, "ConfigMap")
            .into_iter()
            .find(|c| name(c) == reference["name"])
            .unwrap_or_else(|| panic!("{rendering}: no ConfigMap {}", reference["name"]));
        map["data"][reference["key"].as_str().unwrap()]
            .as_str()
            .unwrap_or_else(|| panic!("{rendering}: {reference} has no such key"))
            .to_owned()
    };
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let from = &e["valueFrom"];
            let value = if let Some(value) = e["value"].as_str() {
                value.to_owned()
            } else if from["configMapKeyRef"].is_object() {
                config_map(&from["configMapKeyRef"])
            } else if let (Some(secret @ ("notas-mysql" | "notas-redis")), Some(key)) = (
                from["secretKeyRef"]["name"].as_str(),
                from["secretKeyRef"]["key"].as_str(),
            ) && key.ends_with("url")
            {
                secret_url(rendering, secret, key)
            } else {
                return None; // from the pod itself (fieldRef): never a local default
            };
            Some((e["name"].as_str().unwrap().to_owned(), value))
        })
        .collect()
}

/// The (host, port) of each URL of a setting (comma-separated, as GRPC_SERVER_URL allows);
/// a URL without a port has its scheme's; one without a scheme is `host:port` (SERVER_LISTS).
pub fn url_addresses(value: &str) -> Vec<(String, u64)> {
    value
        .split(',')
        .map(|url| {
            let (scheme, rest) = url.trim().split_once("://").unwrap_or(("", url.trim()));
            let authority = rest.split('/').next().unwrap();
            let authority = authority.rsplit('@').next().unwrap();
            match authority.rsplit_once(':') {
                Some((host, port)) if !host.ends_with(':') => {
                    (host.to_owned(), port.parse().unwrap())
                }
                _ => {
                    let port = match scheme {
                        "http" => 80,
                        "https" => 443,
                        other => panic!("{url}: no port, and {other} has no usual one"),
                    };
                    (authority.to_owned(), port)
                }
            }
        })
        .collect()
}

/// A connection a workload opens because a setting names its server.
#[derive(Debug)]
pub struct Connection {
    pub workload: String,
    pub variable: String,
    pub host: String,
    pub port: u64,
}

/// Every connection the notas containers open to the servers their local-only `Server`
/// settings are set to (a setting left unset opens none here).
pub fn connections(objects: &[Value], rendering: &str) -> Vec<Connection> {
    let settings = local_only_settings();
    let mut found = vec![];
    for w in workloads(objects).into_iter().filter(|w| is_notas(w)) {
        for c in containers(w) {
            let Some(binary) = binary_of(c) else { continue };
            let environment = environment(objects, rendering, c);
            for s in &settings[binary] {
                if s.local != Local::Server || !reads(c, &s.variable) {
                    continue;
                }
                for (host, port) in environment
                    .get(&s.variable)
                    .map(|v| url_addresses(v))
                    .unwrap_or_default()
                {
                    found.push(Connection {
                        workload: name(w).to_owned(),
                        variable: s.variable.clone(),
                        host,
                        port,
                    });
                }
            }
        }
    }
    found
}

/// The flows a connection makes as NetworkPolicies see them: to the pods behind a Service,
/// or to an address outside the cluster (Memorystore); none to its own pod (loopback).
pub fn connection_flows(objects: &[Value], connection: &Connection) -> Vec<Flow> {
    let Connection {
        workload,
        variable,
        host,
        port,
    } = connection;
    let pods = pods(objects);
    let from = pod_named(&pods, workload);
    let what = format!("{workload} -> {host}:{port} ({variable})");
    if is_loopback(host) {
        return vec![];
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => vec![Flow {
            what,
            from: from.clone(),
            to: addresses(&format!("{ip}/32")),
            port: (*port, String::new()),
            protocol: "TCP",
        }],
        Err(_) => service_flows(objects, what, from, host, *port),
    }
}
