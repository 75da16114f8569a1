//! What the checks share: the flake evaluated against the upstream model, and what `just up`
//! and `just deploy-gke` apply, rendered by the same script with dummy values.
#![allow(dead_code)] // each test file uses part of it

pub mod cluster;
pub mod strimzi;

use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

pub const NAMESPACE: &str = "so1p2";
/// The notas images, by the name `nix/images.nix` and `k8s/` give them.
pub const IMAGES: [&str; 8] = [
    "grpc-server",
    "grpc-client",
    "redis-api",
    "queue-api",
    "grade-consumer",
    "dashboard-api",
    "monitor",
    "frontend",
];

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Output of a command that must succeed; a missing tool fails with how to get it.
pub fn run(command: &mut Command, needs: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{needs} is needed ({e}); `just test` installs it"));
    assert!(
        output.status.success(),
        "{command:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `nix-instantiate --eval --strict --json` of `expression` (Debian's nix-bin), a function
/// that may take `repo` (this repository), `ifd` (what evaluation reads back from a build:
/// nix/frontend.nix asks npm for its registry) and `tracked` (`git ls-files`: the files of
/// the flake's source).
pub fn nix_command(expression: &str) -> Command {
    let ifd = std::env::temp_dir().join(format!("notas-ifd-{}", std::process::id()));
    std::fs::create_dir_all(&ifd).unwrap();
    std::fs::write(
        ifd.join("npm-default-registry"),
        "https://registry.invalid/",
    )
    .unwrap();
    let tracked = run(
        Command::new("git").arg("-C").arg(repo()).arg("ls-files"),
        "git",
    );
    let mut command = Command::new("nix-instantiate");
    command
        .args(["--eval", "--strict", "--json", "--expr", expression])
        .args(["--arg", "repo"])
        .arg(repo())
        .args(["--argstr", "ifd"])
        .arg(&ifd)
        .args(["--argstr", "tracked", &tracked]);
    command
}

pub fn nix_eval(expression: &str) -> Value {
    let out = run(
        &mut nix_command(expression),
        "nix-instantiate (apt install nix-bin)",
    );
    serde_json::from_str(&out).unwrap()
}

/// tests/flake-model.nix: the flake's outputs for every system, evaluated.
pub fn flake() -> &'static Value {
    static FLAKE: OnceLock<Value> = OnceLock::new();
    FLAKE.get_or_init(|| {
        nix_eval("{ repo, ifd, tracked }: import (repo + \"/crates/deploy-checks/tests/flake-model.nix\") { inherit repo ifd tracked; }")
    })
}

/// What `just up` and `just deploy-gke` apply, rendered by `scripts/cluster/overlay.py`.
pub const RENDERINGS: [&str; 4] = ["kind", "gke", "gke-private-ip", "cloudrun"];
/// The renderings that are Kubernetes objects for a cluster.
pub const CLUSTERS: [&str; 3] = ["kind", "gke", "gke-private-ip"];

/// Dummy values of the variables `just deploy-gke` reads, shaped like real ones.
pub const GKE_ENVIRONMENT: [(&str, &str); 6] = [
    ("GCP_PROJECT", "notas-project"),
    (
        "INSTANCE_CONNECTION_NAME",
        "notas-project:europe-west1:notas",
    ),
    (
        "GCP_SERVICE_ACCOUNT",
        "notas-sql@notas-project.iam.gserviceaccount.com",
    ),
    ("MEMORYSTORE_INSTANCE", "notas-redis"),
    // Both URLs of the Cloud Run service: deterministic and hashed.
    (
        "FRONTEND_ORIGINS",
        "https://notas-frontend-123456789.europe-west1.run.app,https://notas-frontend-abcdefghij-ew.a.run.app",
    ),
    (
        "FRONTEND_SERVICE_ACCOUNT",
        "123456789-compute@developer.gserviceaccount.com",
    ),
];

/// The images file each rendering is given: for kind what the flake writes (the model's
/// tags), for GKE what deploy-gke.sh writes after pushing (digests).
fn images_file(rendering: &str) -> PathBuf {
    let images: BTreeMap<String, String> = if rendering == "kind" {
        serde_json::from_value(flake()["images"]["x86_64-linux"].clone()).unwrap()
    } else {
        IMAGES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let digest = format!("sha256:{}", i.to_string().repeat(64));
                let registry = "europe-west1-docker.pkg.dev/notas-project/notas";
                (name.to_string(), format!("{registry}/{name}@{digest}"))
            })
            .collect()
    };
    let file = std::env::temp_dir().join(format!(
        "notas-images-{rendering}-{}.json",
        std::process::id()
    ));
    std::fs::write(&file, serde_json::to_string(&images).unwrap()).unwrap();
    file
}

pub fn render(rendering: &str) -> &'static str {
    static RENDERED: OnceLock<BTreeMap<&'static str, String>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        RENDERINGS
            .iter()
            .map(|&r| {
                let target = if r == "gke-private-ip" { "gke" } else { r };
                let mut command = Command::new("python3");
                command
                    .current_dir(repo())
                    .args(["-m", "scripts.cluster.overlay", target])
                    .arg("--images")
                    .arg(images_file(r))
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .envs(GKE_ENVIRONMENT);
                if r == "gke-private-ip" {
                    command.env("CLOUD_SQL_PRIVATE_IP", "true");
                }
                (r, run(&mut command, "python3 and kubectl"))
            })
            .collect()
    })[rendering]
        .as_str()
}

pub fn objects(rendering: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(render(rendering))
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

pub fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

/// Every field of `value` (at `path`, dotted, arrays looked through) is one `allowed` lists
/// for its parent; parents `allowed` does not know (maps of free keys) are not looked into.
pub fn check_fields(
    value: &Value,
    path: &str,
    allowed: &dyn Fn(&str) -> Option<&'static [&'static str]>,
    what: &str,
) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|i| check_fields(i, path, allowed, what)),
        Value::Object(fields) => {
            let Some(known) = allowed(path) else {
                return;
            };
            for (key, child) in fields {
                assert!(
                    known.contains(&key.as_str()),
                    "{what}: {path}.{key} is not a field this check knows {what} takes"
                );
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                check_fields(child, &child_path, allowed, what);
            }
        }
        _ => {}
    }
}
