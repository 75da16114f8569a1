//! Every `.nix` file parses. Building needs a Nix store and network, which CI has not;
//! `nix-instantiate --parse` (Debian's nix-bin) checks the syntax offline.

use std::{path::Path, process::Command};

#[test]
fn every_nix_file_parses() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![repo.join("flake.nix")];
    for entry in std::fs::read_dir(repo.join("nix")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "nix") {
            files.push(path);
        }
    }
    assert!(files.len() >= 5, "flake.nix and nix/*.nix");
    for file in files {
        let output = Command::new("nix-instantiate")
            .arg("--parse")
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!("nix-instantiate is needed (apt install nix-bin, or `just test`): {e}")
            });
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
