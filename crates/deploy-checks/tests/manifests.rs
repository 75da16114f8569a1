//! `k8s/` rendered, validated and checked against the design's invariants, offline.
//!
//! Needs `kubectl` (with its built-in kustomize) and `kubernetes-validate` (PyPI; `just`
//! installs it into `.dev/venv`, or set `KUBERNETES_VALIDATE`). Missing tools fail the
//! tests with a message: nothing is skipped.

use clap::CommandFactory;
use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

/// Every rendering a user can apply.
const TARGETS: [&str; 3] = ["overlays/kind", "overlays/gke", "scenarios/gke-gateway"];
/// The Kubernetes version the objects are validated against (kind's and GKE's current).
const KUBERNETES_VERSION: &str = "1.32.0";
const NAMESPACE: &str = "so1p2";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn render(target: &str) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("k8s").join(target))
        .output()
        .unwrap_or_else(|e| panic!("kubectl is needed to render k8s/ ({e})"));
    assert!(
        output.status.success(),
        "{target}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn objects(target: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(&render(target))
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

#[test]
fn every_rendering_is_pinned() {
    for target in TARGETS {
        let name = target.replace('/', "-");
        insta::assert_snapshot!(name, render(target));
    }
}

#[test]
fn every_object_is_valid_for_the_pinned_kubernetes_version() {
    let validator = std::env::var("KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".dev/venv/bin/kubernetes-validate"));
    for target in TARGETS {
        let file = std::env::temp_dir().join(format!(
            "notas-{}-{}.yaml",
            target.replace('/', "-"),
            std::process::id()
        ));
        std::fs::write(&file, render(target)).unwrap();
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
        assert!(output.status.success(), "{target}:\n{report}");
        // Only the Gateway API kinds are outside the core schemas (GKE installs their CRDs).
        for line in report.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("kind Gateway ") || line.contains("kind HTTPRoute "),
                "{target}: {line}"
            );
        }
    }
}

#[test]
fn everything_lives_in_the_namespace() {
    for target in TARGETS {
        for o in objects(target).iter().filter(|o| o["kind"] != "Namespace") {
            assert_eq!(
                o["metadata"]["namespace"],
                NAMESPACE,
                "{target}: {} {}",
                o["kind"],
                name(o)
            );
        }
        let namespaces: Vec<_> = objects(target)
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .map(|o| name(o).to_owned())
            .collect();
        assert_eq!(namespaces, [NAMESPACE], "{target}");
    }
}

/// (host, path) of every rule of an Ingress.
fn ingress_paths(ingress: &Value) -> BTreeSet<(String, String)> {
    let mut paths = BTreeSet::new();
    for rule in ingress["spec"]["rules"].as_array().unwrap() {
        let host = rule["host"].as_str().unwrap_or("").to_owned();
        for p in rule["http"]["paths"].as_array().unwrap() {
            paths.insert((host.clone(), p["path"].as_str().unwrap().to_owned()));
        }
    }
    paths
}

#[test]
fn one_canary_splits_notas_fifty_fifty() {
    for target in ["overlays/kind", "overlays/gke"] {
        let objects = objects(target);
        let ingresses = of_kind(&objects, "Ingress");
        let is_canary = |i: &Value| {
            i["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] == "true"
        };
        let canaries: Vec<&Value> = ingresses.iter().copied().filter(|i| is_canary(i)).collect();
        assert_eq!(canaries.len(), 1, "{target}: exactly one canary Ingress");
        let canary = canaries[0];
        assert_eq!(
            canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
            "50"
        );
        let paths = ingress_paths(canary);
        assert_eq!(
            paths,
            BTreeSet::from([(String::new(), "/notas".to_owned())]),
            "{target}"
        );
        let mains: Vec<_> = ingresses
            .iter()
            .filter(|i| !is_canary(i) && ingress_paths(i) == paths)
            .collect();
        assert_eq!(
            mains.len(),
            1,
            "{target}: one main Ingress on the canary's host and path"
        );
        let backend = |i: &Value| {
            i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"].clone()
        };
        assert_eq!(
            (backend(mains[0]), backend(canary)),
            ("grpc-client".into(), "redis-api".into())
        );
    }
    let gateway = objects("scenarios/gke-gateway");
    assert!(
        of_kind(&gateway, "Ingress").is_empty(),
        "the Gateway scenario replaces the Ingresses"
    );
    let route = of_kind(&gateway, "HTTPRoute")[0];
    let weights: Vec<_> = route["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].clone(), b["weight"].clone()))
        .collect();
    assert_eq!(
        weights,
        [
            ("grpc-client".into(), 50.into()),
            ("redis-api".into(), 50.into())
        ]
    );
}

#[test]
fn every_deployment_has_its_hpa_and_cpu_requests() {
    for target in TARGETS {
        let objects = objects(target);
        let hpas = of_kind(&objects, "HorizontalPodAutoscaler");
        for deployment in of_kind(&objects, "Deployment") {
            let hpa = hpas
                .iter()
                .find(|h| {
                    h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                        && h["spec"]["scaleTargetRef"]["name"] == name(deployment)
                })
                .unwrap_or_else(|| panic!("{target}: no HPA for {}", name(deployment)));
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
                    "{target}: {} has no CPU request",
                    c["name"]
                );
            }
        }
    }
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

const NOTAS_IMAGES: [&str; 5] = [
    "grpc-server",
    "grpc-client",
    "redis-api",
    "dashboard-api",
    "frontend",
];

/// `registry/path/NAME:tag` or `...NAME@sha256:...` → `NAME`.
fn image_name(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap();
    last.split(['@', ':']).next().unwrap()
}

/// The containers that run a notas image (not the stores' or the proxy's), with the name
/// of their workload.
fn notas_containers(objects: &[Value]) -> Vec<(String, &Value)> {
    objects
        .iter()
        .filter(|o| ["Deployment", "Job", "StatefulSet"].contains(&o["kind"].as_str().unwrap()))
        .flat_map(|o| {
            containers(o)
                .into_iter()
                .map(move |c| (name(o).to_owned(), c))
        })
        .filter(|(_, c)| NOTAS_IMAGES.contains(&image_name(c["image"].as_str().unwrap())))
        .collect()
}

#[test]
fn notas_containers_are_hardened() {
    for target in TARGETS {
        let objects = objects(target);
        for workload in objects
            .iter()
            .filter(|o| ["Deployment", "Job", "StatefulSet"].contains(&o["kind"].as_str().unwrap()))
        {
            let pod = &workload["spec"]["template"]["spec"];
            for c in containers(workload) {
                let sec = &c["securityContext"];
                let what = format!("{target}: {} in {}", c["name"], name(workload));
                let non_root =
                    pod["securityContext"]["runAsNonRoot"] == true || sec["runAsNonRoot"] == true;
                assert!(non_root, "{what} may run as root");
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

/// `(name, tag)` of every image `nix/images.nix` builds, and the flake's version.
fn flake_images() -> (BTreeSet<String>, String) {
    let flake = std::fs::read_to_string(repo().join("flake.nix")).unwrap();
    let version = flake
        .split("version = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let images = std::fs::read_to_string(repo().join("nix/images.nix")).unwrap();
    let mut names: BTreeSet<String> = images
        .split("service \"")
        .skip(1)
        .map(|rest| format!("notas/{}", rest.split('"').next().unwrap()))
        .collect();
    names.extend(
        images
            .split("name = \"notas/")
            .skip(1)
            .map(|rest| format!("notas/{}", rest.split('"').next().unwrap())),
    );
    names.retain(|n| !n.contains('$'));
    (names, version)
}

#[test]
fn the_kind_overlay_runs_the_images_the_flake_builds() {
    let (built, version) = flake_images();
    assert_eq!(
        built,
        [
            "notas/dashboard-api",
            "notas/frontend",
            "notas/grpc-client",
            "notas/grpc-server",
            "notas/redis-api"
        ]
        .map(String::from)
        .into(),
    );
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!("version = \"{version}\"")),
        "the flake's version is the workspace's"
    );
    let objects = objects("overlays/kind");
    let used: BTreeSet<String> = notas_containers(&objects)
        .iter()
        .map(|(_, c)| c["image"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = built.iter().map(|n| format!("{n}:{version}")).collect();
    assert_eq!(
        used, expected,
        "every image kind runs is one `nix build` makes, with its tag"
    );
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
    ])
}

/// What each binary cannot run without in a cluster.
const REQUIRED: [(&str, &[&str]); 4] = [
    ("grpc-server", &["LISTEN_ADDR", "ADMIN_ADDR", "MYSQL_URL"]),
    ("grpc-client", &["LISTEN_ADDR", "GRPC_SERVER_URL"]),
    ("redis-api", &["LISTEN_ADDR", "MYSQL_URL", "REDIS_URL"]),
    ("dashboard-api", &["LISTEN_ADDR", "MYSQL_URL", "REDIS_URL"]),
];

#[test]
fn containers_set_only_variables_their_binary_reads_and_every_required_one() {
    let read = variables_read();
    for target in TARGETS {
        let objects = objects(target);
        for (workload, container) in notas_containers(&objects) {
            let image = container["image"].as_str().unwrap();
            let Some(binary) = read.keys().find(|b| image_name(image) == **b) else {
                continue;
            };
            let set: BTreeSet<String> = container["env"]
                .as_array()
                .map(|env| {
                    env.iter()
                        .map(|e| e["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                container["envFrom"].is_null(),
                "{target}: {workload} takes a whole ConfigMap; name each variable"
            );
            let unknown: Vec<_> = set.difference(&read[binary]).collect();
            assert!(
                unknown.is_empty(),
                "{target}: {workload} sets {unknown:?}, which {binary} does not read"
            );
            if workload == "notas-migrate" {
                continue; // --migrate-only needs MySQL alone
            }
            let required = REQUIRED.iter().find(|(b, _)| b == binary).unwrap().1;
            for variable in required {
                assert!(
                    set.contains(*variable),
                    "{target}: {workload} does not set {variable}"
                );
            }
        }
    }
}

#[test]
fn services_listen_on_every_interface_in_the_cluster() {
    for (workload, container) in notas_containers(&objects("overlays/kind")) {
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
