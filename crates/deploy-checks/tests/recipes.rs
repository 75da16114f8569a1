//! The recipes that cannot run here (`just up`, `just deploy-gke`), read for what they must
//! do: grant what Google Cloud needs, build for the right machine, and run on macOS too.

mod common;

use common::{repo, run};
use std::process::Command;

#[test]
fn deploy_gke_grants_what_the_services_need_and_builds_for_gke() {
    let script = std::fs::read_to_string(repo().join("scripts/deploy-gke.sh")).unwrap();
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
        // The https entry point the Cloud Run page calls.
        (
            "compute ssl-certificates create notas-cert",
            "--domains=\"$NOTAS_DOMAIN\" --global",
        ),
        ("compute addresses create notas-ip", "--global"),
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
    // An https page may only call an https API (mixed content).
    assert!(joined.contains(r#"apiOrigin: "https://%s""#));
    // GKE's nodes and Cloud Run are x86_64 Linux, whatever machine deploys.
    assert!(joined.contains("nix build .#packages.x86_64-linux.all-images"));
    run(
        Command::new("bash")
            .arg("-n")
            .arg(repo().join("scripts/deploy-gke.sh")),
        "bash",
    );
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
    ];
    let mut files = vec![repo().join("justfile")];
    for entry in std::fs::read_dir(repo().join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            files.push(path);
        }
    }
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
