//! The recipes that cannot run here (`just up`, `just deploy-gke`), read for what they must
//! do: grant what Google Cloud needs, build for the right machine, install only pinned,
//! hash-checked upstream manifests, start route 3's broker before the services, and run on
//! macOS too.

mod common;

use common::cluster::{containers, workloads};
use common::{IMAGES, objects, repo, run};
use std::process::Command;

#[test]
fn deploy_gke_grants_what_the_services_need_and_builds_for_gke() {
    let script = std::fs::read_to_string(repo().join("scripts/cluster/deploy-gke.sh")).unwrap();
    let steps = [
        // Browsers may call the Cloud Run service (else 403).
        (
            "run services add-iam-policy-binding notas-frontend",
            "--member=allUsers --role=roles/run.invoker",
        ),
        // Its runtime account may read config.js (else the deploy is refused).
        (
            "secrets add-iam-policy-binding notas-frontend-config",
            "--role=roles/secretmanager.secretAccessor",
        ),
        // The cluster's workloads may act as the Cloud SQL service account.
        (
            "iam service-accounts add-iam-policy-binding",
            "--role=roles/iam.workloadIdentityUser",
        ),
        // GMP's query frontend reads metrics as that account (the route comparison).
        (
            "projects add-iam-policy-binding \"$GCP_PROJECT\"",
            "--member=\"serviceAccount:$GCP_SERVICE_ACCOUNT\" --role=roles/monitoring.viewer",
        ),
        // The https entry point the Cloud Run page calls.
        (
            "compute ssl-certificates create notas-cert",
            "--domains=\"$NOTAS_DOMAIN\" --global",
        ),
        ("compute addresses create notas-ip", "--global"),
        // The edge's rate limit per address, the Gateway's backends' Cloud Armor policy.
        (
            "compute security-policies rules create 1000 --security-policy=notas-edge",
            "--action=throttle --exceed-action=deny-429 --enforce-on-key=IP",
        ),
    ];
    // Commands continue over `\` line ends; join them to read each as one.
    let joined = script.replace("\\\n", " ");
    for (command, arguments) in steps {
        let line = joined
            .lines()
            .find(|l| l.contains(command))
            .unwrap_or_else(|| panic!("deploy-gke.sh does not run `gcloud {command}`"));
        for argument in arguments.split(' ') {
            assert!(line.contains(argument), "gcloud {command}: {argument}");
        }
    }
    // Its query frontend acts as that account too, and so does every workload that reaches
    // Cloud SQL through the proxy sidecar (route 3's two as well).
    let bound = loop_over(&joined, "ksa");
    assert!(bound.contains(&"gmp-frontend"));
    for w in workloads(&objects("gke")) {
        if containers(w).iter().any(|c| c["name"] == "cloud-sql-proxy") {
            let account = w["spec"]["template"]["spec"]["serviceAccountName"]
                .as_str()
                .unwrap();
            assert!(
                bound.contains(&account),
                "deploy-gke.sh does not bind {account}"
            );
        }
    }
    // It pushes every image the GKE overlay runs (scripts/cluster/overlay.py refuses a missing one).
    assert_eq!(loop_over(&joined, "name"), IMAGES, "deploy-gke.sh pushes");
    // CORS admits both of the Cloud Run service's URLs, not only status.url's.
    assert!(
        joined.contains("run.googleapis.com/urls") && joined.contains("export FRONTEND_ORIGINS")
    );
    // An https page may only call an https API (mixed content).
    assert!(joined.contains(r#"apiOrigin: "https://%s""#));
    // GKE's nodes and Cloud Run are x86_64 Linux, whatever machine deploys.
    assert!(joined.contains("nix build .#packages.x86_64-linux.all-images"));
    run(
        Command::new("bash")
            .arg("-n")
            .arg(repo().join("scripts/cluster/deploy-gke.sh")),
        "bash",
    );
}

/// The words a script's `for VARIABLE in WORDS; do` loop goes over.
fn loop_over<'a>(script: &'a str, variable: &str) -> Vec<&'a str> {
    let head = format!("for {variable} in ");
    let line = script
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no `{head}` loop"));
    line[head.len()..]
        .trim_end_matches("; do")
        .split(' ')
        .collect()
}

/// The nix-darwin settings that let its Linux builder build x86_64-linux on Apple Silicon
/// (nix-darwin `modules/nix/linux-builder.nix`: `systems` defaults to the builder's own).
const X86_64_BUILDER: [&str; 2] = [
    r#"systems = [ "x86_64-linux" "aarch64-linux" ];"#,
    r#"boot.binfmt.emulatedSystems = [ "x86_64-linux" ];"#,
];

/// scripts/cluster/deploy-gke.sh run with fakes of every tool, until `nix build`, with `nix config
/// show` answering `settings`: its exit code and standard error.
fn deploy_gke_on(settings: [(&str, &str); 3]) -> (i32, String) {
    let fakes = std::env::temp_dir().join(format!("notas-deploy-gke-{}", std::process::id()));
    std::fs::create_dir_all(&fakes).unwrap();
    let fake = |name: &str, script: &str| {
        let path = fakes.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    };
    for tool in ["skopeo", "gcloud", "kubectl"] {
        fake(tool, "exit 0");
    }
    fake(
        "nix",
        r#"[ "$1 $2" = "config show" ] || { echo "reached nix $*" >&2; exit 3; }
case "$3" in system) echo "$FAKE_SYSTEM" ;; extra-platforms) echo "$FAKE_EXTRA" ;; builders) echo "$FAKE_BUILDERS" ;; esac"#,
    );
    let mut command = Command::new("bash");
    command
        .arg(repo().join("scripts/cluster/deploy-gke.sh"))
        .env(
            "PATH",
            format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap()),
        )
        .envs(common::GKE_ENVIRONMENT)
        .envs(["GCP_PROJECT", "GCP_REGION", "AR_REPOSITORY", "NOTAS_DOMAIN"].map(|v| (v, "x")));
    for (setting, value) in settings {
        command.env(format!("FAKE_{setting}"), value);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn deploy_gke_stops_first_where_nix_cannot_build_x86_64_linux() {
    // What nix-darwin writes to /etc/nix/machines for its Linux builder, by `systems`.
    let machines = std::env::temp_dir().join(format!("notas-machines-{}", std::process::id()));
    let machine = |systems: &str| {
        std::fs::write(
            &machines,
            format!("ssh-ng://builder@linux-builder {systems} /etc/nix/builder_ed25519 4 1 kvm,benchmark,big-parallel - c3No\n"),
        )
        .unwrap();
        format!("@{}", machines.display())
    };
    let mac = |builders: &str| {
        deploy_gke_on([
            ("SYSTEM", "aarch64-darwin"),
            ("EXTRA", "x86_64-darwin"),
            ("BUILDERS", builders),
        ])
    };
    // Apple Silicon with the builder as nix-darwin makes it by default: stop, naming the fix.
    let (code, stderr) = mac(&machine("aarch64-linux"));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("reached nix build"), "{stderr}");
    for setting in X86_64_BUILDER {
        assert!(stderr.contains(setting), "{stderr}");
    }
    // With the documented settings, or a builder given inline, or on x86_64 Linux: it builds.
    for (code, stderr) in [
        mac(&machine("x86_64-linux,aarch64-linux")),
        mac("ssh://a aarch64-linux ; ssh://b x86_64-linux - 2"),
        deploy_gke_on([
            ("SYSTEM", "x86_64-linux"),
            ("EXTRA", "i686-linux"),
            ("BUILDERS", ""),
        ]),
    ] {
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains("reached nix build .#packages.x86_64-linux.all-images"),
            "{stderr}"
        );
    }
    // The fix is the one the docs give, citing nix-darwin's module.
    for readme in ["nix/README.md", "docs/gke.md"] {
        let text = std::fs::read_to_string(repo().join(readme)).unwrap();
        for setting in X86_64_BUILDER {
            assert!(text.contains(setting), "{readme}: {setting}");
        }
    }
    let notes = std::fs::read_to_string(repo().join("nix/README.md")).unwrap();
    assert!(notes.contains("modules/nix/linux-builder.nix"));
}

#[test]
fn recipes_run_on_macos_too() {
    // GNU-only spellings that macOS's BSD tools refuse or read differently.
    let gnu_only = [
        "sha256sum",
        "sed -i",
        "readlink -f",
        "date -d",
        "base64 -d",
        "stat -c",
        "grep -P",
        "xargs -r",
        "$(nproc)",
        "setsid",
    ];
    let mut files = vec![repo().join("justfile")];
    let mut folders = vec![repo().join("scripts")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "sh") {
                files.push(path);
            }
        }
    }
    assert!(files.contains(&repo().join(UP)), "{UP} not read");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for spelling in gnu_only {
                assert!(
                    !line.contains(spelling),
                    "{}:{}: `{spelling}` is GNU-only",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}

/// ingress-nginx answers its rate limit with 503 unless its ConfigMap says otherwise
/// (docs/user-guide/nginx-configuration/configmap.md, limit-req-status-code): `just up` must
/// make it the contract's 429, in the ConfigMap the pinned manifest names
/// (`--configmap=$(POD_NAMESPACE)/ingress-nginx-controller`).
#[test]
fn just_up_makes_the_edges_rate_limit_a_429() {
    let up = std::fs::read_to_string(repo().join(UP)).unwrap();
    let patch = up
        .lines()
        .find(|l| l.contains("patch configmap ingress-nginx-controller"))
        .expect("just up patches the controller's ConfigMap");
    assert!(patch.contains("-n ingress-nginx"), "{patch}");
    assert!(
        patch.contains(r#"{"data":{"limit-req-status-code":"429"}}"#),
        "{patch}"
    );
}

/// What `just up` runs: the recipe is one line, the steps and their pins are this script's.
const UP: &str = "scripts/cluster/up.sh";

/// The lines of a recipe of the justfile, from its header to the next blank line.
fn recipe<'a>(justfile: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("\n{name}:");
    let start = justfile
        .find(&header)
        .unwrap_or_else(|| panic!("no recipe {name}"));
    justfile[start + 1..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// `just up` runs scripts/cluster/up.sh, and the script is valid bash.
#[test]
fn just_up_runs_its_script() {
    let justfile = std::fs::read_to_string(repo().join("justfile")).unwrap();
    assert_eq!(recipe(&justfile, "up")[1].trim(), UP);
    run(Command::new("bash").arg("-n").arg(repo().join(UP)), "bash");
}

/// Every manifest `just up` applies is the pinned upstream one, checked by its sha256
/// (ingress-nginx and metrics-server through `pinned`, the Strimzi operator through
/// scripts/cluster/strimzi.py, tests/broker.rs), or this repository's own rendering.
#[test]
fn just_up_applies_only_pinned_upstream_manifests_and_its_own() {
    let script = std::fs::read_to_string(repo().join(UP)).unwrap();
    let up: Vec<&str> = script.lines().collect();
    let applies: Vec<&str> = up
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.contains("kubectl apply"))
        .collect();
    let allowed = [
        r#"kubectl apply -f "$2""#,
        "kubectl apply --server-side --force-conflicts -f .dev/strimzi.yaml",
        "kubectl apply -f .dev/kind.yaml -l strimzi.io/cluster=notas",
        "kubectl apply -f .dev/kind.yaml",
    ];
    for line in &applies {
        assert!(
            allowed.contains(line)
                || line.ends_with("| kubectl apply -f -") && line.contains("create namespace"),
            "just up: `{line}` applies something unpinned"
        );
    }
    // `pinned` refuses a file whose sha256 is not the one given, and is given each URL's.
    let pinned = up
        .iter()
        .skip_while(|l| !l.contains("pinned() {"))
        .take(4)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        pinned.contains(r#"[ "$(sha256 "$2")" = "$3" ] || {"#),
        "{pinned}"
    );
    for (url, sha256) in [
        ("ingress_nginx_url", "ingress_nginx_sha256"),
        ("metrics_server_url", "metrics_server_sha256"),
    ] {
        let value = |variable: &str| -> String {
            let line = up
                .iter()
                .find(|l| l.starts_with(&format!("{variable}=")))
                .unwrap_or_else(|| panic!("{UP}: no {variable}"));
            line[variable.len() + 1..].to_owned()
        };
        let hash = value(sha256);
        assert!(
            hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{sha256}"
        );
        assert!(value(url).starts_with("https://"));
        assert!(
            up.iter()
                .any(|l| l.trim().starts_with(&format!("pinned \"${url}\" "))
                    && l.ends_with(&format!("\"${sha256}\""))),
            "just up applies {url} without its sha256"
        );
    }
}

/// `just up` and `just deploy-gke` install the Strimzi operator from scripts/cluster/strimzi.py's
/// output (server-side: the Kafka CRD is too large for a client-side apply's annotation),
/// then the Kafka cluster and its topics (their label), wait for them to be Ready, and only
/// then apply the rest, the services: queue-api is ready only once the broker answers.
#[test]
fn route_3s_broker_is_installed_pinned_and_ready_before_the_services() {
    let up = std::fs::read_to_string(repo().join(UP)).unwrap();
    let deploy_gke = std::fs::read_to_string(repo().join("scripts/cluster/deploy-gke.sh")).unwrap();
    let up = up.replace("\\\n", " ");
    let deploy_gke = deploy_gke.replace("\\\n", " ");
    for (what, script, rendering, rendered) in [
        (
            "just up",
            up.as_str(),
            ".dev/strimzi.yaml",
            ".dev/kind.yaml",
        ),
        (
            "deploy-gke.sh",
            deploy_gke.as_str(),
            r#""$work/strimzi.yaml""#,
            r#""$work/gke.yaml""#,
        ),
    ] {
        let lines: Vec<&str> = script.lines().map(str::trim).collect();
        let at = |step: &str| -> usize {
            lines
                .iter()
                .position(|l| l == &step)
                .unwrap_or_else(|| panic!("{what} does not run `{step}`"))
        };
        let steps = [
            format!("python3 -m scripts.cluster.strimzi > {rendering}"),
            format!("kubectl apply --server-side --force-conflicts -f {rendering}"),
            format!("kubectl apply -f {rendered} -l strimzi.io/cluster=notas"),
            format!("kubectl apply -f {rendered}"),
        ];
        let positions: Vec<usize> = steps.iter().map(|s| at(s)).collect();
        assert!(positions.is_sorted(), "{what}: {steps:?} out of order");
        let ready = |resource: &str| {
            lines[positions[2]..positions[3]]
                .iter()
                .any(|l| l.contains("wait --for=condition=Ready") && l.contains(resource))
        };
        assert!(
            ready("kafka/notas") && ready("kafkatopic --all"),
            "{what}: waits for the broker"
        );
        assert!(
            lines[positions[1]..positions[2]]
                .iter()
                .any(|l| l.contains("condition=Established")
                    && l.contains("crd/kafkas.kafka.strimzi.io")),
            "{what}: applies Kafka resources before their CRDs are established"
        );
    }
    // The label selects the broker's resources and nothing of the services.
    for rendering in common::CLUSTERS {
        for o in objects(rendering) {
            let labelled = o["metadata"]["labels"]["strimzi.io/cluster"] == "notas";
            let strimzi = o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("kafka.strimzi.io/");
            assert_eq!(
                labelled, strimzi,
                "{rendering}: {} {}",
                o["kind"], o["metadata"]["name"]
            );
        }
    }
}

/// kind's node image is pinned by tag and digest (a tag alone may name a build for another
/// kind release), and its Kubernetes minor is one `just up` accepts: within metrics-server
/// v0.9's floor (1.34) and ingress-nginx controller-v1.15.1's tested range (up to 1.35).
#[test]
fn kinds_node_image_is_pinned_inside_the_tested_range() {
    let text = std::fs::read_to_string(repo().join("kind/cluster.yaml")).unwrap();
    let config: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let nodes = config["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    let script = std::fs::read_to_string(repo().join(UP)).unwrap();
    let bound = |name: &str| -> u32 {
        let at = script
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("{UP}: no {name}"));
        script[at + name.len() + 1..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (oldest, newest) = (bound("oldest_minor"), bound("newest_minor"));
    assert_eq!(
        (oldest, newest),
        (34, 35),
        "{UP}: the range of Kubernetes minors"
    );
    for node in nodes {
        let image = node["image"]
            .as_str()
            .expect("a node without a pinned image");
        let (reference, digest) = image.split_once("@sha256:").expect("no digest");
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{image}"
        );
        let tag = reference
            .strip_prefix("kindest/node:v1.")
            .unwrap_or_else(|| panic!("{image}: not a kindest/node v1 tag"));
        let minor: u32 = tag.split('.').next().unwrap().parse().unwrap();
        assert!((oldest..=newest).contains(&minor), "{image}: 1.{minor}");
    }
}
