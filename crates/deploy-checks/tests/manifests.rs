//! What `just up` and `just deploy-gke` apply, rendered by `scripts/cluster/overlay.py` with the
//! images the flake builds (kind) or dummy values shaped like real ones (GKE, Cloud Run),
//! validated against the Kubernetes schemas and held to the design's invariants and to the
//! rules of what admits them: ingress-nginx's webhook, the NetworkPolicies, GKE's Gateway,
//! Cloud Run and GMP; and to what scrapes notas' metrics (Prometheus on kind, GMP on GKE).
//!
//! Needs `python3`, `kubectl` (with its built-in kustomize), `nix-instantiate` and
//! `kubernetes-validate` (PyPI; `just` installs it into `.dev/venv`, or set
//! `KUBERNETES_VALIDATE`). Missing tools fail the tests with a message: nothing is skipped.

mod common;

use common::cluster::*;
use common::strimzi::{self, with_operands};
use common::{
    CLUSTERS, IMAGES, NAMESPACE, RENDERINGS, check_fields, flake, name, objects, of_kind, render,
    repo, strings,
};
use serde_json::{Value, json};
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
    // What scripts/cluster/overlay.py fills in: `${NAME}`, NAME in capitals. Grafana's own
    // variables (`${datasource}` in the dashboards) stay as they are.
    for rendering in RENDERINGS {
        let text = render(rendering);
        for (at, _) in text.match_indices("${") {
            let next = text[at + 2..].chars().next();
            assert!(
                !next.is_some_and(|c| c.is_ascii_uppercase()),
                "{rendering}: {}",
                &text[at..(at + 40).min(text.len())]
            );
        }
    }
}

#[test]
fn every_object_is_valid_for_the_pinned_kubernetes_version() {
    let validator = std::env::var("KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".dev/venv/bin/kubernetes-validate"));
    // Custom resources: GKE and the Strimzi operator install their definitions; tests below
    // (and tests/broker.rs for Strimzi's) check what we use.
    let custom = [
        "Gateway",
        "HTTPRoute",
        "HealthCheckPolicy",
        "GCPBackendPolicy",
        "PodMonitoring",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
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

/// Kinds that have no namespace: the namespace itself, and the RBAC that lets Prometheus
/// discover nodes and read their cAdvisor (nodes are cluster-wide).
const CLUSTER_SCOPED: [&str; 3] = ["Namespace", "ClusterRole", "ClusterRoleBinding"];

#[test]
fn everything_lives_in_the_namespace() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        for o in objects
            .iter()
            .filter(|o| !CLUSTER_SCOPED.contains(&o["kind"].as_str().unwrap()))
        {
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
        // Cluster-wide grants go to this namespace's service accounts only.
        for binding in of_kind(&objects, "ClusterRoleBinding") {
            for subject in binding["subjects"].as_array().unwrap() {
                assert_eq!(
                    subject["namespace"],
                    NAMESPACE,
                    "{rendering}: {}",
                    name(binding)
                );
            }
        }
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
        // The rule every client without the three-way header gets (the brief's split).
        let notas = rules_where(rules, |m| {
            m["path"]["value"] == "/notas" && m["headers"].is_null()
        });
        assert_eq!(notas.len(), 1, "{rendering}: one plain rule for /notas");
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

/// The HTTPRoute rules with a match (`matches[]` entry) that `matches` accepts.
fn rules_where<'a>(
    rules: impl IntoIterator<Item = &'a Value>,
    matches: impl Fn(&Value) -> bool,
) -> Vec<&'a Value> {
    rules
        .into_iter()
        .filter(|r| r["matches"].as_array().unwrap().iter().any(&matches))
        .collect()
}

/// Matches on a header as well as a path: GKE's three-way split, which ingress-nginx has not.
fn matches_headers(rule: &Value) -> bool {
    rule["matches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["headers"].is_array())
}

/// The HTTPRoutes' routes by path alone (rules that also match headers left out).
fn http_route_routes(objects: &[Value]) -> Routes {
    let mut routes = Routes::new();
    for rule in of_kind(objects, "HTTPRoute")
        .into_iter()
        .flat_map(|r| r["spec"]["rules"].as_array().unwrap())
        .filter(|rule| !matches_headers(rule))
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
        kind.contains(&("/notas".into(), "redis-api".into(), 80, 50))
            && kind.contains(&(
                queue_api::routes::PREFIX.into(),
                "queue-api".into(),
                80,
                100
            )),
        "{kind:?}"
    );
    assert_eq!(http_route_routes(&objects("gke")), kind);
}

/// The ingress-nginx annotations we use, each known to controller-v1.15.1 at a risk level
/// its default (`annotations-risk-level: High`) admits (all Low but proxy-body-size, Medium),
/// with its validator (internal/ingress/annotations/{canary,proxy,ratelimit,
/// customhttperrors,defaultbackend}/main.go; parser/validators.go).
const KNOWN_ANNOTATIONS: [(&str, &str); 9] = [
    ("canary", "bool"),
    ("canary-weight", "int"),
    ("proxy-read-timeout", "int"),
    ("proxy-send-timeout", "int"),
    ("limit-rps", "int"),
    ("limit-burst-multiplier", "int"),
    // SizeRegex: `^(?i)\d+[bkmg]?$`.
    ("proxy-body-size", "size"),
    // `^(?:[4,5]\d{2},?)*$`.
    ("custom-http-errors", "codes"),
    // A DNS-1035 label, and a Service of the namespace (the controller looks it up).
    ("default-backend", "service"),
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
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let valid = match *kind {
                "bool" => value == "true" || value == "false",
                "size" => digits(value.trim_end_matches(['b', 'k', 'm', 'g', 'B', 'K', 'M', 'G'])),
                "codes" => value.split(',').all(|c| {
                    digits(c) && c.len() == 3 && (c.starts_with('4') || c.starts_with('5'))
                }),
                "service" => of_kind(&objects, "Service")
                    .iter()
                    .any(|s| name(s) == value),
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

// --- Route 3 at the entry point -----------------------------------------------------------

/// The ingestion routes' backends: what takes `POST /notas` somewhere at the entry point.
const INGESTION: [&str; 3] = ["grpc-client", "redis-api", "queue-api"];

/// The edge's limits an Ingress sets (k8s/components/ingress-nginx-split/ingress.yaml).
const EDGE_ANNOTATIONS: [&str; 5] = [
    "limit-rps",
    "limit-burst-multiplier",
    "proxy-body-size",
    "custom-http-errors",
    "default-backend",
];

#[test]
fn kind_serves_route_3_at_its_path_with_the_edges_limits() {
    let objects = objects("kind");
    let ingresses = of_kind(&objects, "Ingress");
    // queue-api serves its endpoints under this prefix too, so the Ingress needs no rewrite.
    let prefix = queue_api::routes::PREFIX;
    let route3: Vec<_> = ingresses
        .iter()
        .filter(|i| ingress_paths(i).iter().any(|p| p.1 == prefix))
        .collect();
    assert_eq!(route3.len(), 1, "one Ingress for {prefix}");
    assert!(!is_canary(route3[0]));
    assert_eq!(
        ingress_paths(route3[0]),
        [(
            String::new(),
            prefix.into(),
            "Prefix".into(),
            "queue-api".into(),
            80
        )]
    );
    // Every Ingress that takes grades sets the same limits (a canary takes its main's).
    let limits = |i: &Value| -> Vec<Option<String>> {
        EDGE_ANNOTATIONS
            .iter()
            .map(|a| {
                i["metadata"]["annotations"][format!("nginx.ingress.kubernetes.io/{a}")]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    let ingesting: Vec<_> = ingresses
        .iter()
        .filter(|i| !is_canary(i))
        .filter(|i| {
            ingress_paths(i)
                .iter()
                .any(|p| INGESTION.contains(&p.3.as_str()))
        })
        .collect();
    assert_eq!(
        ingesting.len(),
        2,
        "route 1's (with its canary) and route 3's"
    );
    for i in &ingesting {
        assert!(
            limits(i).iter().all(Option::is_some),
            "{}: the edge's limits",
            name(i)
        );
        assert_eq!(limits(i), limits(ingesting[0]), "{}", name(i));
    }
}

#[test]
fn gke_serves_route_3_at_its_path_and_splits_three_ways_on_a_header() {
    for rendering in ["gke", "gke-private-ip"] {
        let objects = objects(rendering);
        let rules: Vec<&Value> = of_kind(&objects, "HTTPRoute")
            .into_iter()
            .flat_map(|r| r["spec"]["rules"].as_array().unwrap())
            .collect();
        let backends = |rule: &Value| -> Vec<(String, u64)> {
            rule["backendRefs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["name"].as_str().unwrap().to_owned(),
                        b["weight"].as_u64().unwrap_or(1),
                    )
                })
                .collect()
        };
        // Route 3 alone at its prefix.
        let prefix = queue_api::routes::PREFIX;
        let route3 = rules_where(rules.iter().copied(), |m| m["path"]["value"] == prefix);
        assert_eq!(route3.len(), 1, "{rendering}: one rule for {prefix}");
        assert_eq!(route3[0]["matches"][0]["path"]["type"], "PathPrefix");
        assert_eq!(backends(route3[0]), [("queue-api".to_owned(), 1)]);
        // The three-way split: the plain rule's exact path and one header more, so it takes
        // precedence for requests with the header (HTTPRouteRule precedence), in equal thirds.
        let three: Vec<_> = rules.iter().filter(|r| matches_headers(r)).collect();
        assert_eq!(three.len(), 1, "{rendering}: one header-matched rule");
        let m = &three[0]["matches"][0];
        assert_eq!(
            (m["path"]["type"].as_str(), m["path"]["value"].as_str()),
            (Some("Exact"), Some("/notas"))
        );
        assert_eq!(
            m["headers"],
            json!([{ "type": "Exact", "name": "x-notas-split", "value": "all" }])
        );
        let weights = backends(three[0]);
        let names: BTreeSet<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, INGESTION.into_iter().collect());
        assert!(
            weights.iter().all(|(_, w)| *w == weights[0].1 && *w > 0),
            "{weights:?}"
        );
        // No path rewrite: GKE's Gateway does not claim HTTPRoutePathRewrite
        // (GoogleCloudPlatform/gke-gateway-api conformance/conformance_test.go, exempt features).
        for rule in &rules {
            for filter in rule["filters"].as_array().into_iter().flatten() {
                assert!(
                    filter["urlRewrite"]["path"].is_null(),
                    "{rendering}: a path rewrite GKE does not claim"
                );
            }
        }
    }
}

#[test]
fn every_ingestion_backend_is_behind_the_edges_rate_limit_on_gke() {
    let objects = objects("gke");
    let secured: BTreeMap<&str, &str> = of_kind(&objects, "GCPBackendPolicy")
        .into_iter()
        .filter_map(|p| {
            Some((
                p["spec"]["targetRef"]["name"].as_str()?,
                p["spec"]["default"]["securityPolicy"].as_str()?,
            ))
        })
        .collect();
    let behind_the_entry_point: BTreeSet<&str> = of_kind(&objects, "HTTPRoute")
        .into_iter()
        .flat_map(|r| r["spec"]["rules"].as_array().unwrap())
        .flat_map(|rule| rule["backendRefs"].as_array().unwrap())
        .map(|b| b["name"].as_str().unwrap())
        .filter(|b| INGESTION.contains(b))
        .collect();
    assert_eq!(behind_the_entry_point, INGESTION.into_iter().collect());
    for backend in behind_the_entry_point {
        // The Cloud Armor policy deploy-gke.sh makes (tests/recipes.rs).
        assert_eq!(secured.get(backend), Some(&"notas-edge"), "{backend}");
    }
}

// --- Workloads -------------------------------------------------------------------------

#[test]
fn every_deployment_has_its_hpa_and_cpu_requests() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let hpas = of_kind(&objects, "HorizontalPodAutoscaler");
        for deployment in of_kind(&objects, "Deployment") {
            for c in containers(deployment) {
                assert!(
                    c["resources"]["requests"]["cpu"].is_string(),
                    "{rendering}: {} has no CPU request",
                    c["name"]
                );
            }
            let scaled_by = |h: &Value| {
                h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                    && h["spec"]["scaleTargetRef"]["name"] == name(deployment)
            };
            // The observability stack (kind) runs one replica each: a second Prometheus or
            // kube-state-metrics would scrape or export everything again on its own, and a
            // second Grafana would have its own database. GMP's query frontend (GKE) only
            // relays the route panel's few queries (k8s/components/managed-prometheus).
            if !is_notas(deployment) {
                assert!(
                    !hpas.iter().any(|h| scaled_by(h)),
                    "{rendering}: {} must not scale",
                    name(deployment)
                );
                assert_eq!(deployment["spec"]["replicas"], 1, "{}", name(deployment));
                continue;
            }
            let hpa = hpas
                .iter()
                .find(|h| scaled_by(h))
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
        }
    }
}

#[test]
fn every_notas_workload_is_probed_where_it_answers() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let deployments: BTreeSet<&str> = of_kind(&objects, "Deployment")
            .into_iter()
            .filter(|d| is_notas(d))
            .map(name)
            .collect();
        for route3 in ["queue-api", "grade-consumer"] {
            assert!(deployments.contains(route3), "{rendering}: no {route3}");
        }
        for (workload, c) in notas_containers(&objects) {
            if of_kind(&objects, "Job").iter().any(|j| name(j) == workload) {
                continue; // the migration step runs to its end
            }
            let what = format!("{rendering}: {workload}");
            let declared: Vec<&Value> = c["ports"].as_array().into_iter().flatten().collect();
            for probe in ["readinessProbe", "livenessProbe"] {
                let p = &c[probe];
                assert!(p.is_object(), "{what} has no {probe}");
                let port = &p["httpGet"]["port"];
                if !port.is_null() {
                    assert!(
                        declared
                            .iter()
                            .any(|d| &d["name"] == port || &d["containerPort"] == port),
                        "{what}: {probe} on {port}, a port it does not declare"
                    );
                }
            }
            // The Rust HTTP services answer /readyz (their stores) and /healthz (alive);
            // grpc-server's readiness is the gRPC health service.
            let binary = binary_of(c);
            if binary.is_some_and(|b| b != "grpc-server") {
                assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{what}");
            }
            if binary.is_some() {
                assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{what}");
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
                assert_eq!(
                    sec["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{what}: capabilities kept"
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
    // grpc-server, redis-api, queue-api, grade-consumer, dashboard-api and the migration Job.
    assert_eq!(proxies("gke"), [false; 6]);
    assert_eq!(proxies("gke-private-ip"), [true; 6]);
}

/// What a binary cannot run without in a cluster although its default is not local-only
/// (those are tests/settings.rs'): the monitor's node, not the pod's host name.
const REQUIRED: [(&str, &str); 1] = [("monitor", "NODE_NAME")];

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
            for (_, variable) in REQUIRED.iter().filter(|(b, _)| b == binary) {
                assert!(
                    set.contains(*variable),
                    "{rendering}: {workload} does not set {variable}"
                );
            }
        }
    }
}

// --- Reachability: every real sender is admitted by the NetworkPolicies ------------------

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

    // Metrics: every pod Prometheus (kind) or GMP's collectors (GKE) scrape, on the port
    // they scrape, the exporters prometheus.yml names by address, Grafana's data source.
    let scraper = scraper(objects, &pods);
    for s in scrapes(objects) {
        flows.push(Flow {
            what: format!("scrape {}:{}", s.workload, s.port.1),
            from: scraper.clone(),
            to: pod_named(&pods, &s.workload).clone(),
            port: s.port,
            protocol: "TCP",
        });
    }
    if let Some(config) = prometheus_config(objects) {
        for job in config["scrape_configs"].as_array().unwrap() {
            for target in job["static_configs"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| strings(&c["targets"]))
            {
                let (host, port) = host_port(&format!("http://{target}"));
                flows.extend(to_service(
                    format!("prometheus -> {target}"),
                    &scraper,
                    &host,
                    port,
                ));
            }
        }
        let (host, port) = host_port(grafana_datasource(objects)["url"].as_str().unwrap());
        flows.extend(to_service(
            format!("grafana -> {host}:{port}"),
            pod_named(&pods, "grafana"),
            &host,
            port,
        ));
    }

    // Between the workloads, from the servers their settings name (`connections`: MySQL,
    // Redis, grpc-server, Prometheus; on GKE MySQL is the proxy sidecar in the same pod).
    for connection in connections(objects, rendering) {
        flows.extend(connection_flows(objects, &connection));
    }
    // Route 3's broker as the Strimzi operator runs it (tests/common/strimzi.rs).
    flows.extend(strimzi::internal_flows(objects));
    let mut outside = vec![];
    for w in workloads(objects) {
        let from = pod_named(&pods, name(w));
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
        let objects = with_operands(objects(rendering));
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
            guarded.extend(endpoints(&objects, "prometheus", 9090));
            guarded.extend(endpoints(&objects, "kube-state-metrics", 8080));
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
fn cloud_run_fields(path: &str) -> Option<&'static [&'static str]> {
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

#[test]
fn cloud_run_accepts_the_frontend_service() {
    let service: Value = serde_norway::from_str(render("cloudrun")).unwrap();
    assert_eq!(
        (service["apiVersion"].as_str(), service["kind"].as_str()),
        (Some("serving.knative.dev/v1"), Some("Service"))
    );
    check_fields(&service, "", &cloud_run_fields, "Cloud Run");
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

// --- Metrics: Prometheus, kube-state-metrics and Grafana (kind), GMP (GKE) ----------------

/// A ConfigMap kustomize generated (`NAME-<hash>`), by its generator's name.
fn generated<'a>(objects: &'a [Value], generator: &str) -> Option<&'a Value> {
    let found: Vec<_> = of_kind(objects, "ConfigMap")
        .into_iter()
        .filter(|c| {
            name(c)
                .rsplit_once('-')
                .is_some_and(|(n, _)| n == generator)
        })
        .collect();
    assert!(found.len() <= 1, "{} ConfigMaps {generator}", found.len());
    found.first().copied()
}

/// prometheus.yml as the kind rendering mounts it; none on GKE.
fn prometheus_config(objects: &[Value]) -> Option<Value> {
    let map = generated(objects, "prometheus-config")?;
    Some(serde_norway::from_str(map["data"]["prometheus.yml"].as_str().unwrap()).unwrap())
}

/// The one data source Grafana is provisioned with.
fn grafana_datasource(objects: &[Value]) -> Value {
    let map = generated(objects, "grafana-provisioning").expect("Grafana's provisioning");
    let file: Value =
        serde_norway::from_str(map["data"]["datasources.yaml"].as_str().unwrap()).unwrap();
    let sources = file["datasources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    sources[0].clone()
}

/// One Prometheus relabel rule applied to a target's labels (`<relabel_config>`,
/// docs/configuration/configuration.md of prometheus v3.14.0): `keep`, `drop` or `replace`
/// (the default, regex `(.*)`, replacement `$1`); false when the target is dropped. Only the
/// regexes prometheus.yml uses are evaluated: `(.*)`, `(.+)` and alternations of literals
/// (Prometheus anchors them); any other stops the check, to be taught here first.
fn relabel(rule: &Value, labels: &mut BTreeMap<String, String>) -> bool {
    let value = strings(&rule["source_labels"])
        .map(|l| labels.get(l).map_or("", String::as_str))
        .collect::<Vec<_>>()
        .join(rule["separator"].as_str().unwrap_or(";"));
    let regex = rule["regex"].as_str().unwrap_or("(.*)");
    let action = rule["action"].as_str().unwrap_or("replace");
    let matched = match regex {
        "(.*)" => Some(value),
        "(.+)" => Some(value).filter(|v| !v.is_empty()),
        literals => {
            assert!(
                literals
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-|./".contains(c))
                    && action != "replace",
                "relabel regex {literals:?}: this check evaluates only literal alternations"
            );
            literals.split('|').any(|l| l == value).then_some(value)
        }
    };
    match action {
        "keep" => matched.is_some(),
        "drop" => matched.is_none(),
        "replace" => {
            if let Some(group) = matched {
                let replacement = rule["replacement"].as_str().unwrap_or("$1");
                labels.insert(
                    rule["target_label"].as_str().unwrap().to_owned(),
                    replacement.replace("$1", &group),
                );
            }
            true
        }
        other => panic!("relabel action {other}: not evaluated by this check"),
    }
}

/// `[^a-zA-Z0-9_]` → `_`, as Prometheus turns a pod label into a meta label name.
fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// What pod discovery makes of a workload's pod (`<kubernetes_sd_config>` role `pod`): a
/// target per declared container port, and one per container that declares none, each
/// with the pod's namespace, name and labels.
fn pod_discovery(workload: &Value) -> Vec<BTreeMap<String, String>> {
    let template = &workload["spec"]["template"];
    let mut pod = BTreeMap::from([
        (
            "__meta_kubernetes_namespace".to_owned(),
            NAMESPACE.to_owned(),
        ),
        (
            "__meta_kubernetes_pod_name".to_owned(),
            format!("{}-x7k2p", name(workload)),
        ),
    ]);
    for (key, value) in template["metadata"]["labels"].as_object().unwrap() {
        pod.insert(
            format!("__meta_kubernetes_pod_label_{}", label_name(key)),
            value.as_str().unwrap().to_owned(),
        );
    }
    let mut targets = vec![];
    for (init, list) in [("true", "initContainers"), ("false", "containers")] {
        for c in template["spec"][list].as_array().into_iter().flatten() {
            let mut container = pod.clone();
            container.insert("__meta_kubernetes_pod_container_init".into(), init.into());
            container.insert(
                "__meta_kubernetes_pod_container_name".into(),
                c["name"].as_str().unwrap().into(),
            );
            let ports = c["ports"].as_array().cloned().unwrap_or_default();
            if ports.is_empty() {
                targets.push(container.clone());
            }
            for p in ports {
                let mut target = container.clone();
                target.insert(
                    "__meta_kubernetes_pod_container_port_name".into(),
                    p["name"].as_str().unwrap_or("").into(),
                );
                target.insert(
                    "__meta_kubernetes_pod_container_port_number".into(),
                    p["containerPort"].to_string(),
                );
                targets.push(target);
            }
        }
    }
    targets
}

/// A notas pod's metrics endpoint as its scraper sees it.
struct Scrape {
    workload: String,
    /// The container port's number and name.
    port: (u64, String),
    job: String,
    interval: String,
}

/// Every scrape of a pod: on kind what prometheus.yml's pod-discovery jobs keep, on GKE
/// what the PodMonitorings select.
fn scrapes(objects: &[Value]) -> Vec<Scrape> {
    let port_of = |workload: &Value, port_name: &str| -> (u64, String) {
        containers(workload)
            .into_iter()
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .find(|p| p["name"] == port_name)
            .map(|p| (p["containerPort"].as_u64().unwrap(), port_name.to_owned()))
            .unwrap_or_else(|| panic!("{} has no port {port_name}", name(workload)))
    };
    let mut found = vec![];
    if let Some(config) = prometheus_config(objects) {
        let global = config["global"]["scrape_interval"].as_str().unwrap_or("1m");
        for job in config["scrape_configs"].as_array().unwrap() {
            let discovery = &job["kubernetes_sd_configs"];
            if discovery[0]["role"] != "pod" {
                continue;
            }
            assert_eq!(
                discovery[0]["namespaces"]["names"],
                serde_json::json!([NAMESPACE])
            );
            for w in workloads(objects) {
                for mut target in pod_discovery(w) {
                    target.insert("job".into(), job["job_name"].as_str().unwrap().into());
                    let rules = job["relabel_configs"].as_array().unwrap();
                    if rules.iter().all(|r| relabel(r, &mut target)) {
                        let port_name = &target["__meta_kubernetes_pod_container_port_name"];
                        found.push(Scrape {
                            workload: name(w).into(),
                            port: port_of(w, port_name),
                            job: target["job"].clone(),
                            interval: job["scrape_interval"].as_str().unwrap_or(global).into(),
                        });
                    }
                }
            }
        }
    }
    for monitoring in of_kind(objects, "PodMonitoring") {
        for w in workloads(objects) {
            let labels = &w["spec"]["template"]["metadata"]["labels"];
            if !selects(&monitoring["spec"]["selector"], labels) {
                continue;
            }
            for endpoint in monitoring["spec"]["endpoints"].as_array().unwrap() {
                found.push(Scrape {
                    workload: name(w).into(),
                    port: port_of(w, endpoint["port"].as_str().unwrap()),
                    job: name(monitoring).into(),
                    interval: endpoint["interval"].as_str().unwrap().into(),
                });
            }
        }
    }
    found
}

/// Who scrapes: Prometheus' pod on kind; on GKE GMP's collectors, pods of gmp-system
/// (the collector DaemonSet of prometheus-engine v0.17.2, manifests/operator.yaml).
fn scraper(objects: &[Value], pods: &[(Peer, Vec<(u64, String)>)]) -> Peer {
    if prometheus_config(objects).is_some() {
        pod_named(pods, "prometheus").clone()
    } else {
        pod_of(
            "gmp-system",
            serde_json::json!({ "app.kubernetes.io/name": "collector" }),
        )
    }
}

#[test]
fn every_notas_service_is_scraped_once_on_its_metrics_port() {
    let read = variables_read();
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        assert!(
            (rendering == "kind") == prometheus_config(&objects).is_some()
                && (rendering == "kind") == of_kind(&objects, "PodMonitoring").is_empty(),
            "{rendering}: Prometheus on kind, Managed Service for Prometheus on GKE"
        );
        // The Rust services serve /metrics: grpc-server on `admin` (its `grpc` port is the
        // gRPC service), the others on `http`; the frontend's static server has none.
        let mut expected = BTreeMap::new();
        for (workload, c) in notas_containers(&objects) {
            let ports: Vec<&str> = c["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            if read.contains_key(image_name(c["image"].as_str().unwrap())) && !ports.is_empty() {
                let port = if ports.contains(&"admin") {
                    "admin"
                } else {
                    "http"
                };
                expected.insert(workload, port.to_owned());
            }
        }
        // Every notas image but the frontend's.
        assert_eq!(
            expected.len(),
            IMAGES.len() - 1,
            "{rendering}: {expected:?}"
        );
        let mut scraped = BTreeMap::new();
        for s in scrapes(&objects) {
            let what = format!("{rendering}: {} on {}", s.workload, s.port.1);
            // Dashboards group by `job`, named after the workload as in `just dev`.
            assert_eq!(s.job, s.workload, "{what}: job");
            assert_eq!(s.interval, "10s", "{what}: interval");
            assert!(
                scraped.insert(s.workload.clone(), s.port.1).is_none(),
                "{what}: scraped twice"
            );
        }
        assert_eq!(scraped, expected, "{rendering}");
    }
}

/// A Prometheus duration (`1h30m`, `10s`, `500ms`) in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let units = [
        ("ms", 1),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("w", 604_800_000),
        ("y", 31_536_000_000),
    ];
    let mut rest = text;
    let mut total = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: u64 = rest[..digits].parse().ok()?;
        let (unit, factor) = units.iter().find(|(u, _)| {
            rest[digits..].starts_with(u) && !(*u == "m" && rest[digits..].starts_with("ms"))
        })?;
        total += number * factor;
        rest = &rest[digits + unit.len()..];
    }
    (!text.is_empty()).then_some(total)
}

/// The fields of a monitoring.googleapis.com/v1 PodMonitoring (GoogleCloudPlatform/
/// prometheus-engine v0.17.2, pkg/operator/apis/monitoring/v1/pod_types.go and
/// http_types.go: PodMonitoringSpec, ScrapeEndpoint with its inline HTTPClientConfig).
fn pod_monitoring_fields(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "" => &["apiVersion", "kind", "metadata", "spec"],
        "metadata" => &["name", "namespace", "labels", "annotations"],
        "spec" => &[
            "selector",
            "endpoints",
            "targetLabels",
            "limits",
            "filterRunning",
        ],
        "spec.selector" => &["matchLabels", "matchExpressions"],
        "spec.endpoints" => &[
            "port",
            "scheme",
            "path",
            "params",
            "interval",
            "timeout",
            "metricRelabeling",
            "authorization",
            "basicAuth",
            "tls",
            "oauth2",
            "proxyUrl",
        ],
        "spec.targetLabels" => &["metadata", "fromPod"],
        "spec.limits" => &["samples", "labels", "labelNameLength", "labelValueLength"],
        _ => return None,
    })
}

#[test]
fn pod_monitorings_are_what_gmp_takes() {
    for rendering in ["gke", "gke-private-ip"] {
        let objects = objects(rendering);
        for monitoring in of_kind(&objects, "PodMonitoring") {
            let what = format!("{rendering}: PodMonitoring {}", name(monitoring));
            assert_eq!(monitoring["apiVersion"], "monitoring.googleapis.com/v1");
            check_fields(monitoring, "", &pod_monitoring_fields, "PodMonitoring");
            // Endpoints: 1 to 10, each a named or numbered port, a required interval, a
            // timeout no longer than it, http or https (the CRD's kubebuilder markers).
            let endpoints = monitoring["spec"]["endpoints"].as_array().unwrap();
            assert!((1..=10).contains(&endpoints.len()), "{what}");
            for e in endpoints {
                let interval = duration_ms(e["interval"].as_str().unwrap());
                assert!(interval.is_some(), "{what}: interval {}", e["interval"]);
                if let Some(timeout) = e["timeout"].as_str() {
                    assert!(
                        duration_ms(timeout) <= interval,
                        "{what}: timeout {timeout}"
                    );
                }
                assert!(
                    e["port"].as_str().is_some_and(|p| !p.is_empty())
                        || e["port"].as_u64() > Some(0),
                    "{what}: port"
                );
                assert!(
                    e["scheme"].is_null()
                        || ["http", "https"].contains(&e["scheme"].as_str().unwrap()),
                    "{what}: scheme"
                );
                assert!(
                    e["path"].is_null() || e["path"].as_str().unwrap().starts_with('/'),
                    "{what}: path"
                );
            }
        }
    }
}

#[test]
fn kube_state_metrics_watches_only_what_the_dashboard_reads() {
    let objects = objects("kind");
    let deployment = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| name(d) == "kube-state-metrics")
        .unwrap();
    let args = kube_state_metrics_args(deployment);
    // API group of each resource kube-state-metrics v2.20.0 lists and watches
    // (examples/standard/cluster-role.yaml; HPAs through autoscaling/v2).
    let groups = [
        ("pods", ""),
        ("deployments", "apps"),
        ("daemonsets", "apps"),
        ("horizontalpodautoscalers", "autoscaling"),
    ];
    let enabled: BTreeSet<&str> = args["resources"].split(',').collect();
    assert_eq!(
        enabled,
        groups.iter().map(|(r, _)| *r).collect(),
        "--resources: the cluster dashboard's HPAs, Deployments, DaemonSets and pods"
    );
    assert_eq!(args["namespaces"], NAMESPACE);
    // A Role in the namespace grants exactly list and watch on those.
    let role = of_kind(&objects, "Role")
        .into_iter()
        .find(|r| name(r) == "kube-state-metrics")
        .unwrap();
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let verbs: BTreeSet<&str> = strings(&rule["verbs"]).collect();
        assert_eq!(verbs, BTreeSet::from(["list", "watch"]), "{rule}");
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                granted.insert((resource, group));
            }
        }
    }
    assert_eq!(granted, groups.into_iter().collect());
    for binding in of_kind(&objects, "ClusterRoleBinding") {
        assert!(
            !binding["subjects"]
                .to_string()
                .contains("kube-state-metrics"),
            "kube-state-metrics needs no cluster-wide grant"
        );
    }
}

/// A kube-state-metrics container's `--flag=value` arguments.
fn kube_state_metrics_args(deployment: &Value) -> BTreeMap<String, String> {
    strings(&containers(deployment)[0]["args"])
        .map(|a| {
            let (flag, value) = a.strip_prefix("--").unwrap().split_once('=').unwrap();
            (flag.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn grafana_is_provisioned_with_every_dashboard() {
    let objects = objects("kind");
    let grafana = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| name(d) == "grafana")
        .unwrap();
    let spec = &grafana["spec"]["template"]["spec"];
    let container = containers(grafana)[0];
    let mount_of = |config_map: &str| -> Vec<String> {
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["configMap"]["name"] == name(generated(&objects, config_map).unwrap()))
            .unwrap_or_else(|| panic!("no volume of {config_map}"));
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"] == volume["name"])
            .map(|m| m["mountPath"].as_str().unwrap().to_owned())
            .collect()
    };
    // Every dashboard of the folder, as it is in the repository.
    let folder = repo().join("k8s/components/observability/dashboards");
    let files: BTreeMap<String, String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            (file, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let dashboards = generated(&objects, "grafana-dashboards").unwrap();
    let provisioned: BTreeMap<String, String> =
        serde_json::from_value(dashboards["data"].clone()).unwrap();
    assert_eq!(
        provisioned.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "kustomization.yaml generates every dashboard"
    );
    for (file, text) in &files {
        assert!(provisioned[file] == *text, "{file} is provisioned as it is");
    }
    // Where the provider looks is where they are mounted, and the provisioning files are
    // where Grafana reads them (GF_PATHS_PROVISIONING, /etc/grafana/provisioning).
    let provisioning = generated(&objects, "grafana-provisioning").unwrap();
    let providers: Value =
        serde_norway::from_str(provisioning["data"]["dashboards.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(
        mount_of("grafana-dashboards"),
        [providers["providers"][0]["options"]["path"]
            .as_str()
            .unwrap()]
    );
    assert_eq!(
        mount_of("grafana-provisioning"),
        [
            "/etc/grafana/provisioning/datasources",
            "/etc/grafana/provisioning/dashboards"
        ]
    );
    // The data source: the in-cluster Prometheus (its Service answers on that port).
    let source = grafana_datasource(&objects);
    assert_eq!(
        (source["type"].as_str(), source["uid"].as_str()),
        (Some("prometheus"), Some("prometheus"))
    );
    let (host, port) = host_port(source["url"].as_str().unwrap());
    assert!(!endpoints(&objects, &host, port).is_empty());
    // Read-only root: GF_PATHS_DATA and GF_PATHS_LOGS (the image's defaults) on emptyDirs.
    for path in ["/var/lib/grafana", "/var/log/grafana"] {
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("Grafana cannot write {path}"));
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        assert!(volume["emptyDir"].is_object(), "{path}");
    }
    let env: BTreeMap<&str, &str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(env["GF_AUTH_ANONYMOUS_ENABLED"], "true");
    assert_eq!(env["GF_AUTH_ANONYMOUS_ORG_ROLE"], "Viewer");
}

#[test]
fn the_observability_stack_runs_images_pinned_by_version_and_digest() {
    let objects = objects("kind");
    let mut seen = BTreeSet::new();
    for w in workloads(&objects)
        .into_iter()
        .filter(|w| ["prometheus", "kube-state-metrics", "grafana"].contains(&name(w)))
    {
        for c in containers(w) {
            let image = c["image"].as_str().unwrap();
            let (reference, digest) = image.split_once("@sha256:").unwrap_or((image, ""));
            let tag = reference.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(
                !tag.is_empty()
                    && !tag.contains('/')
                    && digest.len() == 64
                    && digest.chars().all(|c| c.is_ascii_hexdigit()),
                "{}: {image} is not `repository:version@sha256:digest`",
                name(w)
            );
            seen.insert(name(w));
        }
    }
    assert_eq!(seen.len(), 3);
}

/// Every value a query's `label="..."` or `label=~"a|b"` matchers give `label`.
fn matched(query: &str, label: &str) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for op in ["=\"", "=~\""] {
        for (i, _) in query.match_indices(&format!("{label}{op}")) {
            let rest = &query[i + label.len() + op.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            values.extend(value.split('|').map(str::to_owned));
        }
    }
    values
}

/// dashboard-api's route panel reads each route's processes by `job` and, in a cluster, the
/// stores from cAdvisor (`STORE_METRICS=cadvisor`). On kind and GKE every job it names is
/// one a scrape gives, its stores' containers exist there, and on kind Prometheus keeps
/// the cAdvisor series it reads. (GKE's cAdvisor package keeps them: managed-prometheus'
/// README.)
#[test]
fn the_route_panels_cost_queries_read_what_each_cluster_scrapes() {
    use dashboard_api::comparison::{SERIES, StoreMetrics};
    let routes: Vec<&str> = SERIES.iter().map(|(_, q)| *q).collect();
    let stores = StoreMetrics::Cadvisor.series().map(|(_, q)| q);
    let jobs: BTreeSet<String> = routes.iter().flat_map(|q| matched(q, "job")).collect();
    assert!(jobs.len() >= 5, "{jobs:?}");
    let store_containers: BTreeSet<String> = stores
        .iter()
        .flat_map(|q| matched(q, "container"))
        .collect();
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let scraped: BTreeSet<String> = scrapes(&objects).into_iter().map(|s| s.job).collect();
        let unscraped: Vec<_> = jobs.difference(&scraped).collect();
        assert!(
            unscraped.is_empty(),
            "{rendering}: no scrape has the job of {unscraped:?}"
        );
        let dashboard = of_kind(&objects, "Deployment")
            .into_iter()
            .find(|d| name(d) == "dashboard-api")
            .unwrap();
        let container = containers(dashboard)
            .into_iter()
            .find(|c| c["name"] == "dashboard-api")
            .unwrap();
        let env = environment(&objects, rendering, container);
        assert_eq!(
            env.get("STORE_METRICS").map(String::as_str),
            Some("cadvisor"),
            "{rendering}"
        );
        // Strimzi names its broker's container `kafka` (KafkaCluster.KAFKA_NAME).
        let running: BTreeSet<String> = workloads(&objects)
            .into_iter()
            .flat_map(containers)
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .chain((!of_kind(&objects, "Kafka").is_empty()).then(|| "kafka".to_owned()))
            .collect();
        let seen: Vec<_> = store_containers.intersection(&running).collect();
        assert!(seen.contains(&&"kafka".to_owned()), "{rendering}: {seen:?}");
        if rendering == "kind" {
            assert_eq!(
                seen.len(),
                store_containers.len(),
                "kind runs every store: {seen:?}"
            );
            let config = prometheus_config(&objects).unwrap();
            let cadvisor = config["scrape_configs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["job_name"] == "cadvisor")
                .unwrap();
            let kept = cadvisor["metric_relabel_configs"].to_string();
            for metric in [
                "container_cpu_usage_seconds_total",
                "container_memory_working_set_bytes",
            ] {
                assert!(
                    stores.iter().any(|q| q.contains(metric)) && kept.contains(metric),
                    "{metric}"
                );
            }
        }
    }
}
