//! What `just up` and `just deploy-gke` apply, rendered by `scripts/overlay.py` with the
//! images the flake builds (kind) or dummy values shaped like real ones (GKE, Cloud Run),
//! validated against the Kubernetes schemas and held to the design's invariants and to the
//! rules of what admits them: ingress-nginx's webhook, the NetworkPolicies, GKE's Gateway
//! and Cloud Run.
//!
//! Needs `python3`, `kubectl` (with its built-in kustomize), `nix-instantiate` and
//! `kubernetes-validate` (PyPI; `just` installs it into `.dev/venv`, or set
//! `KUBERNETES_VALIDATE`). Missing tools fail the tests with a message: nothing is skipped.

mod common;

use clap::CommandFactory;
use common::{
    CLUSTERS, IMAGES, NAMESPACE, RENDERINGS, flake, name, objects, of_kind, render, repo, strings,
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::Command,
};

/// The oldest Kubernetes the clusters may run: metrics-server v0.9 needs 1.34 (kind v0.30's
/// default node; `just up` checks it).
const KUBERNETES_VERSION: &str = "1.34.0";

#[test]
fn every_rendering_is_pinned() {
    for rendering in RENDERINGS {
        insta::assert_snapshot!(rendering, render(rendering));
    }
}

#[test]
fn nothing_is_left_to_fill_in() {
    for rendering in RENDERINGS {
        assert!(!render(rendering).contains("${"), "{rendering}");
    }
}

#[test]
fn every_object_is_valid_for_the_pinned_kubernetes_version() {
    let validator = std::env::var("KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".dev/venv/bin/kubernetes-validate"));
    // Custom resources: GKE installs their definitions; tests below check what we use.
    let custom = [
        "Gateway",
        "HTTPRoute",
        "HealthCheckPolicy",
        "GCPBackendPolicy",
    ];
    for rendering in CLUSTERS {
        let file =
            std::env::temp_dir().join(format!("notas-{rendering}-{}.yaml", std::process::id()));
        std::fs::write(&file, render(rendering)).unwrap();
        let output = Command::new(&validator)
            .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{} is needed (pip install kubernetes-validate, or `just test`): {e}",
                    validator.display()
                )
            });
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{rendering}:\n{report}");
        for line in report.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                custom.iter().any(|k| line.contains(&format!("kind {k} "))),
                "{rendering}: {line}"
            );
        }
    }
}

#[test]
fn everything_lives_in_the_namespace() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for o in objects.iter().filter(|o| o["kind"] != "Namespace") {
            assert_eq!(
                o["metadata"]["namespace"],
                NAMESPACE,
                "{rendering}: {} {}",
                o["kind"],
                name(o)
            );
        }
        let namespaces: Vec<_> = of_kind(&objects, "Namespace")
            .into_iter()
            .map(name)
            .collect();
        assert_eq!(namespaces, [NAMESPACE], "{rendering}");
    }
}

// --- The 50/50 split -------------------------------------------------------------------

const CANARY: &str = "nginx.ingress.kubernetes.io/canary";

fn is_canary(ingress: &Value) -> bool {
    ingress["metadata"]["annotations"][CANARY] == "true"
}

/// (host, path, pathType, backend Service, port) of every rule of an Ingress.
fn ingress_paths(ingress: &Value) -> Vec<(String, String, String, String, u64)> {
    let mut paths = vec![];
    for rule in ingress["spec"]["rules"].as_array().unwrap() {
        let host = rule["host"].as_str().unwrap_or("").to_owned();
        for p in rule["http"]["paths"].as_array().unwrap() {
            let service = &p["backend"]["service"];
            paths.push((
                host.clone(),
                p["path"].as_str().unwrap().to_owned(),
                p["pathType"].as_str().unwrap_or("").to_owned(),
                service["name"].as_str().unwrap().to_owned(),
                service["port"]["number"].as_u64().unwrap(),
            ));
        }
    }
    paths
}

#[test]
fn kind_splits_notas_fifty_fifty_with_one_canary() {
    let objects = objects("kind");
    let ingresses = of_kind(&objects, "Ingress");
    let canaries: Vec<_> = ingresses.iter().filter(|i| is_canary(i)).collect();
    assert_eq!(canaries.len(), 1, "exactly one canary Ingress");
    let canary = canaries[0];
    assert_eq!(
        canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
        "50"
    );
    let route = |i: &Value| {
        ingress_paths(i)
            .into_iter()
            .map(|(h, p, ..)| (h, p))
            .collect::<Vec<_>>()
    };
    assert_eq!(route(canary), [(String::new(), "/notas".to_owned())]);
    let mains: Vec<_> = ingresses
        .iter()
        .filter(|i| !is_canary(i) && route(i) == route(canary))
        .collect();
    assert_eq!(
        mains.len(),
        1,
        "one main Ingress on the canary's host and path"
    );
    assert_eq!(
        (
            ingress_paths(mains[0])[0].3.as_str(),
            ingress_paths(canary)[0].3.as_str()
        ),
        ("grpc-client", "redis-api")
    );
    assert!(of_kind(&objects, "HTTPRoute").is_empty());
}

#[test]
fn gke_splits_notas_fifty_fifty_with_route_weights() {
    for rendering in ["gke", "gke-private-ip"] {
        let objects = objects(rendering);
        assert!(
            of_kind(&objects, "Ingress").is_empty(),
            "{rendering}: GKE has no ingress-nginx"
        );
        let routes = of_kind(&objects, "HTTPRoute");
        assert_eq!(routes.len(), 1);
        let rules = routes[0]["spec"]["rules"].as_array().unwrap();
        let notas: Vec<_> = rules
            .iter()
            .filter(|r| {
                r["matches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["path"]["value"] == "/notas")
            })
            .collect();
        assert_eq!(notas.len(), 1, "{rendering}: one rule for /notas");
        assert_eq!(notas[0]["matches"][0]["path"]["type"], "Exact");
        let weights: Vec<_> = notas[0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["name"].as_str().unwrap(), b["weight"].as_u64().unwrap()))
            .collect();
        assert_eq!(weights, [("grpc-client", 50), ("redis-api", 50)]);
        let gateways = of_kind(&objects, "Gateway");
        assert_eq!(gateways.len(), 1);
        assert_eq!(
            routes[0]["spec"]["parentRefs"][0]["name"],
            name(gateways[0])
        );
    }
}

/// (path, backend Service, port, percent of the path's traffic) of an entry point.
type Routes = BTreeSet<(String, String, u64, u64)>;

fn ingress_routes(objects: &[Value]) -> Routes {
    let mut routes = Routes::new();
    let ingresses = of_kind(objects, "Ingress");
    let canary_weight = |path: &str| -> u64 {
        ingresses
            .iter()
            .filter(|i| is_canary(i) && ingress_paths(i).iter().any(|p| p.1 == path))
            .map(|i| {
                i["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum()
    };
    for ingress in &ingresses {
        for (_, path, _, service, port) in ingress_paths(ingress) {
            let share = if is_canary(ingress) {
                canary_weight(&path)
            } else {
                100 - canary_weight(&path)
            };
            routes.insert((path, service, port, share));
        }
    }
    routes
}

fn http_route_routes(objects: &[Value]) -> Routes {
    let mut routes = Routes::new();
    for rule in of_kind(objects, "HTTPRoute")
        .into_iter()
        .flat_map(|r| r["spec"]["rules"].as_array().unwrap())
    {
        let backends = rule["backendRefs"].as_array().unwrap();
        let weight = |b: &Value| b["weight"].as_u64().unwrap_or(1);
        let total: u64 = backends.iter().map(weight).sum();
        for m in rule["matches"].as_array().unwrap() {
            for b in backends {
                let path = m["path"]["value"].as_str().unwrap().to_owned();
                routes.insert((
                    path,
                    b["name"].as_str().unwrap().into(),
                    b["port"].as_u64().unwrap(),
                    100 * weight(b) / total,
                ));
            }
        }
    }
    routes
}

#[test]
fn kind_and_gke_route_the_same_paths_alike() {
    let kind = ingress_routes(&objects("kind"));
    assert!(
        kind.contains(&("/notas".into(), "redis-api".into(), 80, 50)),
        "{kind:?}"
    );
    assert_eq!(http_route_routes(&objects("gke")), kind);
}

/// The ingress-nginx annotations we use, each known to controller-v1.15.1 at a risk level
/// its default (`annotations-risk-level: High`) admits, with its validator
/// (internal/ingress/annotations/{canary,proxy}/main.go).
const KNOWN_ANNOTATIONS: [(&str, &str); 4] = [
    ("canary", "bool"),
    ("canary-weight", "int"),
    ("proxy-read-timeout", "int"),
    ("proxy-send-timeout", "int"),
];

#[test]
fn ingress_nginx_admits_every_ingress() {
    let objects = objects("kind");
    let ingresses = of_kind(&objects, "Ingress");
    let mut owners: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for ingress in &ingresses {
        assert_eq!(
            ingress["spec"]["ingressClassName"],
            "nginx",
            "{}",
            name(ingress)
        );
        for (key, value) in ingress["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let Some(short) = key.strip_prefix("nginx.ingress.kubernetes.io/") else {
                continue;
            };
            let (_, kind) = KNOWN_ANNOTATIONS
                .iter()
                .find(|(k, _)| *k == short)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: {key} is not an annotation this check knows the controller takes",
                        name(ingress)
                    )
                });
            let value = value.as_str().unwrap();
            let valid = match *kind {
                "bool" => value == "true" || value == "false",
                _ => value.parse::<i64>().is_ok(),
            };
            assert!(
                valid,
                "{}: {key}: {value:?} is not a plain {kind}",
                name(ingress)
            );
            // A canary takes its other settings from the main Ingress; its own are ignored.
            if is_canary(ingress) {
                assert!(
                    short.starts_with("canary"),
                    "{}: {key} is ignored on a canary",
                    name(ingress)
                );
            }
        }
        for (host, path, path_type, ..) in ingress_paths(ingress) {
            // strict-validate-path-type (default true): Exact and Prefix paths may hold only
            // these characters (docs/user-guide/nginx-configuration/configmap.md).
            match path_type.as_str() {
                "Exact" | "Prefix" => assert!(
                    path.starts_with('/')
                        && path
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c)),
                    "{}: {path} cannot be used with pathType {path_type}",
                    name(ingress)
                ),
                "ImplementationSpecific" => assert!(path.starts_with('/')),
                other => panic!("{}: {path} has pathType {other:?}", name(ingress)),
            }
            if !is_canary(ingress) {
                owners.entry((host, path)).or_default().push(name(ingress));
            }
        }
    }
    // The webhook rejects two non-canary Ingresses on one host and path.
    for (route, names) in owners {
        assert_eq!(names.len(), 1, "{route:?} is claimed by {names:?}");
    }
}

// --- Workloads -------------------------------------------------------------------------

fn workloads(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| {
            ["Deployment", "DaemonSet", "Job", "StatefulSet"].contains(&o["kind"].as_str().unwrap())
        })
        .collect()
}

/// The containers of a workload's pod template, sidecars (init containers) included.
fn containers(workload: &Value) -> Vec<&Value> {
    let spec = &workload["spec"]["template"]["spec"];
    [&spec["initContainers"], &spec["containers"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .collect()
}

/// `registry/path/NAME:tag` or `...NAME@sha256:...` → `NAME`.
fn image_name(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap();
    last.split(['@', ':']).next().unwrap()
}

/// The containers that run a notas image (not the stores' or the proxy's), with the name
/// of their workload.
fn notas_containers(objects: &[Value]) -> Vec<(String, &Value)> {
    workloads(objects)
        .into_iter()
        .flat_map(|o| {
            containers(o)
                .into_iter()
                .map(move |c| (name(o).to_owned(), c))
        })
        .filter(|(_, c)| IMAGES.contains(&image_name(c["image"].as_str().unwrap())))
        .collect()
}

#[test]
fn every_deployment_has_its_hpa_and_cpu_requests() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let hpas = of_kind(&objects, "HorizontalPodAutoscaler");
        for deployment in of_kind(&objects, "Deployment") {
            let hpa = hpas
                .iter()
                .find(|h| {
                    h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                        && h["spec"]["scaleTargetRef"]["name"] == name(deployment)
                })
                .unwrap_or_else(|| panic!("{rendering}: no HPA for {}", name(deployment)));
            assert_eq!(
                (
                    hpa["spec"]["minReplicas"].as_u64(),
                    hpa["spec"]["maxReplicas"].as_u64()
                ),
                (Some(1), Some(3))
            );
            let metric = &hpa["spec"]["metrics"][0]["resource"];
            assert_eq!(
                (
                    metric["name"].as_str(),
                    metric["target"]["averageUtilization"].as_u64()
                ),
                (Some("cpu"), Some(50))
            );
            for c in containers(deployment) {
                assert!(
                    c["resources"]["requests"]["cpu"].is_string(),
                    "{rendering}: {} has no CPU request",
                    c["name"]
                );
            }
        }
    }
}

#[test]
fn every_container_is_hardened() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for workload in workloads(&objects) {
            let pod = &workload["spec"]["template"]["spec"];
            for c in containers(workload) {
                let sec = &c["securityContext"];
                let what = format!("{rendering}: {} in {}", c["name"], name(workload));
                assert!(
                    pod["securityContext"]["runAsNonRoot"] == true || sec["runAsNonRoot"] == true,
                    "{what} may run as root"
                );
                assert_eq!(
                    sec["readOnlyRootFilesystem"], true,
                    "{what}: writable root filesystem"
                );
                assert_eq!(
                    sec["allowPrivilegeEscalation"], false,
                    "{what}: privilege escalation"
                );
            }
        }
    }
}

#[test]
fn kind_runs_the_images_nix_builds_and_never_pulls_them() {
    let built: BTreeSet<&str> = flake()["images"]["x86_64-linux"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    let objects = objects("kind");
    let containers = notas_containers(&objects);
    let used: BTreeSet<&str> = containers
        .iter()
        .map(|(_, c)| c["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        used, built,
        "every image kind runs is one `nix build` makes, with its tag"
    );
    for (workload, c) in containers {
        // Loaded by `kind load`: a pull could only fetch someone else's image.
        assert_eq!(c["imagePullPolicy"], "Never", "{workload}");
    }
}

#[test]
fn gke_runs_the_digests_deploy_gke_pushed() {
    for rendering in ["gke", "gke-private-ip"] {
        let objects = objects(rendering);
        let containers = notas_containers(&objects);
        let names: BTreeSet<&str> = containers
            .iter()
            .map(|(_, c)| image_name(c["image"].as_str().unwrap()))
            .collect();
        assert_eq!(names, IMAGES.into_iter().collect());
        for (workload, c) in containers {
            let image = c["image"].as_str().unwrap();
            assert!(
                image.starts_with("europe-west1-docker.pkg.dev/notas-project/notas/")
                    && image.contains("@sha256:"),
                "{workload}: {image}"
            );
        }
    }
}

#[test]
fn cloud_sql_private_ip_is_a_setting() {
    let proxies = |rendering: &str| -> Vec<bool> {
        workloads(&objects(rendering))
            .into_iter()
            .flat_map(containers)
            .filter(|c| c["name"] == "cloud-sql-proxy")
            .map(|c| strings(&c["args"]).any(|a| a == "--private-ip"))
            .collect()
    };
    assert_eq!(proxies("gke"), [false; 4]);
    assert_eq!(proxies("gke-private-ip"), [true; 4]);
}

/// The environment variables each binary reads: its clap arguments' `env`, plus the
/// logging variables of `notas_core::telemetry`.
fn variables_read() -> BTreeMap<&'static str, BTreeSet<String>> {
    fn envs(command: clap::Command) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        names.extend(["RUST_LOG".to_owned(), "LOG_FORMAT".to_owned()]);
        names
    }
    BTreeMap::from([
        ("grpc-server", envs(grpc_server::config::Config::command())),
        ("grpc-client", envs(grpc_client::config::Config::command())),
        ("redis-api", envs(redis_api::config::Config::command())),
        (
            "dashboard-api",
            envs(dashboard_api::config::Config::command()),
        ),
        ("monitor", envs(monitor::config::Config::command())),
    ])
}

/// What each binary cannot run without in a cluster.
const REQUIRED: [(&str, &[&str]); 5] = [
    ("grpc-server", &["LISTEN_ADDR", "ADMIN_ADDR", "MYSQL_URL"]),
    ("grpc-client", &["LISTEN_ADDR", "GRPC_SERVER_URL"]),
    ("redis-api", &["LISTEN_ADDR", "MYSQL_URL", "REDIS_URL"]),
    ("dashboard-api", &["LISTEN_ADDR", "MYSQL_URL", "REDIS_URL"]),
    // The node's name and its /proc, not the container's.
    (
        "monitor",
        &["LISTEN_ADDR", "REDIS_URL", "NODE_NAME", "PROC_ROOT"],
    ),
];

fn variables_set(container: &Value) -> BTreeSet<String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn containers_set_only_variables_their_binary_reads_and_every_required_one() {
    let read = variables_read();
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for (workload, container) in notas_containers(&objects) {
            let image = container["image"].as_str().unwrap();
            let Some(binary) = read.keys().find(|b| image_name(image) == **b) else {
                continue;
            };
            let set = variables_set(container);
            assert!(
                container["envFrom"].is_null(),
                "{rendering}: {workload} takes a whole ConfigMap; name each variable"
            );
            let unknown: Vec<_> = set.difference(&read[binary]).collect();
            assert!(
                unknown.is_empty(),
                "{rendering}: {workload} sets {unknown:?}, which {binary} does not read"
            );
            if workload == "notas-migrate" {
                continue; // --migrate-only needs MySQL alone
            }
            for variable in REQUIRED.iter().find(|(b, _)| b == binary).unwrap().1 {
                assert!(
                    set.contains(*variable),
                    "{rendering}: {workload} does not set {variable}"
                );
            }
        }
    }
}

#[test]
fn services_listen_on_every_interface_in_the_cluster() {
    for (workload, container) in notas_containers(&objects("kind")) {
        for e in container["env"].as_array().into_iter().flatten() {
            if e["name"].as_str().unwrap().ends_with("_ADDR") {
                assert!(
                    e["value"].as_str().unwrap().starts_with("0.0.0.0:"),
                    "{workload}: {e}"
                );
            }
        }
    }
}

// --- Reachability: every real sender is admitted by the NetworkPolicies ------------------

/// One end of a connection as NetworkPolicies see it.
#[derive(Debug, Clone)]
enum Peer {
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

fn cidr(text: &str) -> (u32, u32) {
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
fn selects(selector: &Value, labels: &Value) -> bool {
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
fn peer_matches(entry: &Value, peer: &Peer) -> bool {
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
fn admitted(
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
                        port_ok(rule)
                            && rule[peers].as_array().is_none_or(|entries| {
                                entries.iter().any(|e| peer_matches(e, other))
                            })
                    })
            })
    };
    side("Egress", from, to) && side("Ingress", to, from)
}

/// The pods of each workload, as peers, with their container ports (number, name).
fn pods(objects: &[Value]) -> Vec<(Peer, Vec<(u64, String)>)> {
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
fn endpoints(objects: &[Value], service: &str, port: u64) -> Vec<(Peer, (u64, String))> {
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

fn pod_named<'a>(pods: &'a [(Peer, Vec<(u64, String)>)], workload: &str) -> &'a Peer {
    &pods
        .iter()
        .find(|(p, _)| matches!(p, Peer::Pod { name, .. } if name == workload))
        .unwrap()
        .0
}

/// `scheme://user@host:port/...` → (host, port).
fn host_port(url: &str) -> (String, u64) {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let authority = authority.rsplit('@').next().unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

/// A pod of another namespace, e.g. the ingress controller.
fn pod_of(namespace: &str, labels: Value) -> Peer {
    Peer::Pod {
        namespace: namespace.into(),
        namespace_labels: serde_json::json!({ "kubernetes.io/metadata.name": namespace }),
        labels,
        name: format!("a pod of {namespace}"),
    }
}

fn addresses(range: &str) -> Peer {
    let (start, end) = cidr(range);
    Peer::Addresses(start, end)
}

/// A connection a workload really needs, as NetworkPolicies see it.
struct Flow {
    what: String,
    from: Peer,
    to: Peer,
    /// The destination port's number and, on a pod, its name.
    port: (u64, String),
    protocol: &'static str,
}

/// The flows from `from` to the pods behind a Service port.
fn service_flows(
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

/// Every connection the rendering's workloads need, derived from what names them: the
/// entry point's backends, the addresses the containers are given, DNS and Cloud SQL.
fn flows(objects: &[Value], rendering: &str) -> Vec<Flow> {
    let pods = pods(objects);
    let mut flows = vec![];
    let to_service = |what: String, from: &Peer, service: &str, port: u64| {
        service_flows(objects, what, from, service, port)
    };

    // The entry point: what sends outside traffic to each backend the split names.
    if rendering == "kind" {
        let controller = pod_of("ingress-nginx", serde_json::json!({}));
        for (.., service, port) in of_kind(objects, "Ingress")
            .into_iter()
            .flat_map(ingress_paths)
        {
            flows.extend(to_service(
                format!("ingress-nginx -> {service}:{port}"),
                &controller,
                &service,
                port,
            ));
        }
    } else {
        let backends = of_kind(objects, "HTTPRoute")
            .into_iter()
            .flat_map(|r| r["spec"]["rules"].as_array().unwrap())
            .flat_map(|rule| rule["backendRefs"].as_array().unwrap());
        for b in backends {
            let (service, port) = (b["name"].as_str().unwrap(), b["port"].as_u64().unwrap());
            // Google's front ends and health checkers (global external Application LB).
            for range in ["35.191.0.0/16", "130.211.0.0/22"] {
                flows.extend(to_service(
                    format!("{range} -> {service}:{port}"),
                    &addresses(range),
                    service,
                    port,
                ));
            }
        }
    }

    // Between the workloads, from the addresses they are given: GRPC_SERVER_URL as set,
    // REDIS_URL from the ConfigMap, MYSQL_URL from the Secret (kind: the in-cluster
    // Service `just up` names; GKE: the proxy sidecar in the same pod, no flow).
    let config = of_kind(objects, "ConfigMap")
        .into_iter()
        .find(|c| name(c) == "notas-config")
        .unwrap();
    let mut outside = vec![];
    for w in workloads(objects) {
        let from = pod_named(&pods, name(w));
        for c in containers(w) {
            for e in c["env"].as_array().into_iter().flatten() {
                let url = match e["name"].as_str().unwrap() {
                    "GRPC_SERVER_URL" => e["value"].as_str().unwrap(),
                    "REDIS_URL" => config["data"]["REDIS_URL"].as_str().unwrap(),
                    "MYSQL_URL" if rendering == "kind" => "mysql://root@mysql:3306/notas",
                    _ => continue,
                };
                let (host, port) = host_port(url);
                match host.parse::<std::net::Ipv4Addr>() {
                    Ok(ip) => outside.push((
                        format!("{} -> {host}:{port}", name(w)),
                        from.clone(),
                        addresses(&format!("{ip}/32")),
                        port,
                    )),
                    Err(_) => flows.extend(to_service(
                        format!("{} -> {host}:{port}", name(w)),
                        from,
                        &host,
                        port,
                    )),
                }
            }
        }
        // Every pod resolves names, and the Cloud SQL Auth Proxy dials the instance.
        if containers(w).iter().any(|c| c["name"] == "cloud-sql-proxy") {
            outside.push((
                format!("{} -> Cloud SQL", name(w)),
                from.clone(),
                addresses("0.0.0.0/0"),
                3307,
            ));
        }
        let dns = pod_of("kube-system", serde_json::json!({ "k8s-app": "kube-dns" }));
        flows.push(Flow {
            what: format!("{} -> DNS", name(w)),
            from: from.clone(),
            to: dns,
            port: (53, "dns".into()),
            protocol: "UDP",
        });
    }
    for (what, from, to, port) in outside {
        flows.push(Flow {
            what,
            from,
            to,
            port: (port, String::new()),
            protocol: "TCP",
        });
    }
    flows
}

#[test]
fn every_real_sender_is_admitted_by_the_network_policies() {
    // Kubelet probes need no rule: traffic from a pod's own node is always allowed
    // (Kubernetes' NetworkPolicy docs; kindnet's kube-network-policies exempts the node's
    // root processes; Cilium, GKE Dataplane V2, lets the local host in).
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let policies = of_kind(&objects, "NetworkPolicy");
        let flows = flows(&objects, rendering);
        assert!(flows.len() >= 15, "{rendering}: {} flows", flows.len());
        for f in &flows {
            let port_name = (!f.port.1.is_empty()).then_some(f.port.1.as_str());
            assert!(
                admitted(&policies, &f.from, &f.to, (f.port.0, port_name), f.protocol),
                "{rendering}: {} ({} {}) is dropped by the NetworkPolicies",
                f.what,
                f.protocol,
                f.port.0
            );
        }
        // And the policies still deny: another namespace cannot reach MySQL or grpc-server.
        let outsider = pod_of("default", serde_json::json!({}));
        let mut guarded = endpoints(&objects, "grpc-server", 50051);
        if rendering == "kind" {
            guarded.extend(endpoints(&objects, "mysql", 3306));
        }
        for (to, (port, port_name)) in guarded {
            assert!(
                !admitted(&policies, &outsider, &to, (port, Some(&port_name)), "TCP"),
                "{rendering}: {to:?} is open"
            );
        }
    }
}

// --- GKE's Gateway -----------------------------------------------------------------------

#[test]
fn the_load_balancer_checks_each_backend_where_it_answers() {
    let objects = objects("gke");
    let deployments = of_kind(&objects, "Deployment");
    let targets = |kind: &str| -> BTreeMap<String, &Value> {
        of_kind(&objects, kind)
            .into_iter()
            .map(|p| {
                let target = &p["spec"]["targetRef"];
                assert_eq!(
                    (target["group"].as_str(), target["kind"].as_str()),
                    (Some(""), Some("Service")),
                    "{kind} {}",
                    name(p)
                );
                (target["name"].as_str().unwrap().to_owned(), p)
            })
            .collect()
    };
    let health_checks = targets("HealthCheckPolicy");
    let backend_policies = targets("GCPBackendPolicy");
    let services: BTreeSet<&str> = of_kind(&objects, "Service").into_iter().map(name).collect();
    for service in health_checks.keys().chain(backend_policies.keys()) {
        assert!(
            services.contains(service.as_str()),
            "a policy targets {service}, which is not a Service here"
        );
    }
    let backends: BTreeSet<String> = of_kind(&objects, "HTTPRoute")
        .into_iter()
        .flat_map(|r| r["spec"]["rules"].as_array().unwrap().iter())
        .flat_map(|rule| rule["backendRefs"].as_array().unwrap().iter())
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    for backend in &backends {
        // The load balancer's default check asks for `/`: each backend's check must ask
        // where its pods answer ready, the path of their own readiness probe.
        let policy = health_checks
            .get(backend)
            .unwrap_or_else(|| panic!("{backend} has no HealthCheckPolicy"));
        let config = policy["spec"]["default"]["config"].as_object().unwrap();
        assert_eq!(
            config.len(),
            2,
            "{backend}: `config` holds exactly `type` and its check"
        );
        assert_eq!(config["type"], "HTTP");
        let check = &config["httpHealthCheck"];
        let serving = check["portSpecification"]
            .as_str()
            .unwrap_or("USE_SERVING_PORT")
            == "USE_SERVING_PORT";
        assert!(
            serving && check.get("port").is_none() && check.get("portName").is_none(),
            "{backend}: USE_SERVING_PORT takes no port"
        );
        let deployment = deployments.iter().find(|d| name(d) == backend).unwrap();
        let probe = &containers(deployment).last().unwrap()["readinessProbe"]["httpGet"]["path"];
        assert_eq!(
            &check["requestPath"], probe,
            "{backend}: checked where its readiness probe asks"
        );
    }
    // socket.io's websockets outlive the default 30 s backend timeout.
    let timeout = backend_policies["dashboard-api"]["spec"]["default"]["timeoutSec"]
        .as_u64()
        .unwrap();
    assert!(timeout >= 3600, "dashboard-api's backend timeout {timeout}");

    let gateway = of_kind(&objects, "Gateway")[0];
    assert_eq!(
        gateway["spec"]["gatewayClassName"],
        "gke-l7-global-external-managed"
    );
    assert_eq!(gateway["spec"]["addresses"][0]["type"], "NamedAddress");
    let https = gateway["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["protocol"] == "HTTPS")
        .expect("an HTTPS listener (the Cloud Run page is https)");
    assert_eq!(https["port"], 443);
    assert_eq!(https["tls"]["mode"], "Terminate");
    assert!(https["tls"]["options"]["networking.gke.io/pre-shared-certs"].is_string());
}

// --- Cloud Run ------------------------------------------------------------------------------

/// A valid Google Cloud label key or value (cloud.google.com/resource-manager/docs/labels):
/// lowercase letters, digits, `_` and `-`, at most 63; keys start with a letter.
fn google_label(text: &str, key: bool) -> bool {
    text.len() <= 63
        && (!key || text.starts_with(|c: char| c.is_ascii_lowercase()))
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The fields of a serving.knative.dev/v1 Service that Cloud Run's Admin API (v1) takes and
/// this file uses; anything else here is a mistake to look up first.
fn allowed_fields(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "" => &["apiVersion", "kind", "metadata", "spec"],
        "metadata" | "spec.template.metadata" => &["name", "labels", "annotations"],
        "spec" => &["template", "traffic"],
        "spec.template" => &["metadata", "spec"],
        "spec.template.spec" => &[
            "containerConcurrency",
            "timeoutSeconds",
            "serviceAccountName",
            "containers",
            "volumes",
        ],
        "spec.template.spec.containers" => &[
            "name",
            "image",
            "command",
            "args",
            "env",
            "ports",
            "resources",
            "volumeMounts",
            "startupProbe",
            "livenessProbe",
        ],
        "spec.template.spec.containers.ports" => &["name", "containerPort"],
        "spec.template.spec.containers.volumeMounts" => &["name", "mountPath", "readOnly"],
        "spec.template.spec.volumes" => &["name", "secret"],
        "spec.template.spec.volumes.secret" => &["secretName", "items"],
        "spec.template.spec.volumes.secret.items" => &["key", "path"],
        _ => return None,
    })
}

fn check_fields(value: &Value, path: &str) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| check_fields(i, path)),
        Value::Object(fields) => {
            let Some(allowed) = allowed_fields(path) else {
                return;
            };
            for (key, child) in fields {
                assert!(
                    allowed.contains(&key.as_str()),
                    "Cloud Run: {path}.{key} is not a field this check knows Cloud Run takes"
                );
                check_fields(
                    child,
                    &if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    },
                );
            }
        }
        _ => {}
    }
}

#[test]
fn cloud_run_accepts_the_frontend_service() {
    let service: Value = serde_norway::from_str(render("cloudrun")).unwrap();
    assert_eq!(
        (service["apiVersion"].as_str(), service["kind"].as_str()),
        (Some("serving.knative.dev/v1"), Some("Service"))
    );
    check_fields(&service, "");
    for labels in [
        &service["metadata"]["labels"],
        &service["spec"]["template"]["metadata"]["labels"],
    ] {
        for (key, value) in labels.as_object().into_iter().flatten() {
            assert!(
                google_label(key, true) && google_label(value.as_str().unwrap(), false),
                "Cloud Run label {key}: {value}"
            );
        }
    }
    for (key, _) in service["spec"]["template"]["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert!(
            key.starts_with("autoscaling.knative.dev/") || key.starts_with("run.googleapis.com/"),
            "annotation {key}"
        );
    }
    let spec = &service["spec"]["template"]["spec"];
    assert!(
        spec["serviceAccountName"]
            .as_str()
            .unwrap()
            .ends_with(".gserviceaccount.com")
    );
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let ports = containers[0]["ports"].as_array().unwrap();
    assert!(
        ports.len() == 1 && ["http1", "h2c"].contains(&ports[0]["name"].as_str().unwrap()),
        "one port, http1 or h2c"
    );
    assert!(
        containers[0]["image"]
            .as_str()
            .unwrap()
            .contains("/frontend@sha256:")
    );
    // config.js from Secret Manager, mounted where the image's /site/config.js points.
    let volumes = spec["volumes"].as_array().unwrap();
    for mount in containers[0]["volumeMounts"].as_array().unwrap() {
        assert!(!mount["mountPath"].as_str().unwrap().contains(':'));
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("a mount names its volume");
        for item in volume["secret"]["items"].as_array().unwrap() {
            let key = item["key"].as_str().unwrap();
            assert!(
                key == "latest" || key.parse::<u32>().is_ok(),
                "secret version {key}"
            );
            let path = item["path"].as_str().unwrap();
            assert!(
                !path.starts_with('/') && !path.split('/').any(|p| p == ".."),
                "{path}"
            );
        }
    }
    assert_eq!(volumes[0]["secret"]["secretName"], "notas-frontend-config");
    assert_eq!(containers[0]["volumeMounts"][0]["mountPath"], "/config");
}
