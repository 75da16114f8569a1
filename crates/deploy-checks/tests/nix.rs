//! `nix build` and `nix develop` need a Nix store and network, which CI has not, and Debian's
//! Nix 2.8 cannot evaluate nixpkgs. So every `.nix` file is parsed, and the flake is
//! evaluated for every system against `nix/upstream.nix`, the model of what it uses of
//! nixpkgs and crane, each entry checked against upstream's source (nix/README.md).

mod common;

use common::{IMAGES, flake, nix_command, nix_eval, repo, run, strings};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
    sync::OnceLock,
};

const LINUX: [&str; 2] = ["x86_64-linux", "aarch64-linux"];
const DARWIN: [&str; 2] = ["aarch64-darwin", "x86_64-darwin"];

#[test]
fn every_nix_file_parses() {
    let mut files = vec![
        repo().join("flake.nix"),
        repo().join("crates/deploy-checks/tests/flake-model.nix"),
    ];
    for entry in std::fs::read_dir(repo().join("nix")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "nix") {
            files.push(path);
        }
    }
    assert!(files.len() >= 8, "flake.nix and nix/*.nix: {files:?}");
    for file in files {
        run(
            Command::new("nix-instantiate").arg("--parse").arg(&file),
            "nix-instantiate (apt install nix-bin)",
        );
    }
}

fn names(v: &Value) -> BTreeSet<&str> {
    strings(v).collect()
}

/// `cargo metadata` of the workspace (manifests only, offline): its members, their targets
/// and their dependencies with the features asked for (workspace-inherited ones resolved).
fn metadata() -> &'static Value {
    static METADATA: OnceLock<Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = run(
            Command::new(cargo).current_dir(repo()).args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ]),
            "cargo",
        );
        serde_json::from_str(&out).unwrap()
    })
}

/// Every binary of the workspace (`crates/*/src/main.rs` and any other bin target of a
/// member; crates/fuzz is outside the workspace): binary -> its package.
fn workspace_binaries() -> BTreeMap<String, String> {
    let mut binaries = BTreeMap::new();
    for package in metadata()["packages"].as_array().unwrap() {
        for target in package["targets"].as_array().unwrap() {
            if strings(&target["kind"]).any(|k| k == "bin") {
                binaries.insert(
                    target["name"].as_str().unwrap().to_string(),
                    package["name"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    binaries
}

/// What `nix build` makes an image of: every binary of the workspace and the frontend.
fn expected_images() -> BTreeSet<String> {
    let mut images: BTreeSet<String> = workspace_binaries().into_keys().collect();
    images.insert("frontend".into());
    images
}

#[test]
fn nix_build_makes_every_image_on_linux_and_macos() {
    let flake = flake();
    assert_eq!(flake["evaluated"], true);
    let expected_images = expected_images();
    // What the cluster runs (common::IMAGES, k8s/ and scripts/cluster/overlay.py) is built here.
    for image in IMAGES {
        assert!(
            expected_images.contains(image),
            "{image} is no workspace binary"
        );
    }
    let every: BTreeSet<&str> = LINUX.iter().chain(&DARWIN).copied().collect();
    let systems: BTreeSet<&str> = flake["packages"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(systems, every);
    for system in every {
        let packages = names(&flake["packages"][system]);
        for image in &expected_images {
            assert!(
                packages.contains(format!("{image}-image").as_str()),
                "{system}: {image}-image"
            );
        }
        assert!(
            packages.contains("default") && packages.contains("frontend"),
            "{system}"
        );
        // result/ of `nix build`: what `just up` loads and what scripts/cluster/overlay.py reads.
        let mut expected: BTreeSet<String> =
            expected_images.iter().map(|i| format!("{i}.tar")).collect();
        expected.insert("images.json".into());
        let results: BTreeSet<String> = strings(&flake["results"][system])
            .map(String::from)
            .collect();
        assert_eq!(results, expected, "{system}");
        let images = flake["images"][system].as_object().unwrap();
        assert_eq!(images.len(), expected_images.len(), "{system}");
        for image in &expected_images {
            let reference = images[image.as_str()].as_str().unwrap();
            let (repository, tag) = reference.rsplit_once(':').unwrap();
            assert_eq!(repository, format!("notas/{image}"));
            // No fixed tag: the content hash, so a rebuilt image rolls out.
            assert!(tag.len() == 32 && tag != "latest", "{system}: {reference}");
        }
    }
    // A Mac builds the images of the Linux with its own CPU (kind in Docker Desktop).
    for (mac, linux) in DARWIN.iter().zip(LINUX.iter().rev()) {
        assert_eq!(
            flake["images"][mac], flake["images"][linux],
            "{mac} builds {linux} images"
        );
    }
}

#[test]
fn every_binary_of_the_workspace_is_built_and_shipped() {
    // The next service cannot be forgotten: each binary is one of nix/rust.nix's `names`
    // (a crane package building exactly it) and nix/images.nix runs it in an image.
    let binaries = workspace_binaries();
    assert!(binaries.len() >= 7, "{binaries:?}");
    let built = flake()["binaries"].as_object().unwrap();
    let entrypoints = flake()["entrypoints"].as_object().unwrap();
    for (binary, package) in &binaries {
        assert_eq!(
            built.get(binary).and_then(Value::as_str),
            Some(format!("--locked -p {package}").as_str()),
            "{binary}: add it to `names` in nix/rust.nix"
        );
        let entrypoint: Vec<&str> = entrypoints
            .get(&format!("{binary}-image"))
            .unwrap_or_else(|| panic!("{binary}: no {binary}-image in nix/images.nix"))
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            entrypoint.len() == 1 && entrypoint[0].ends_with(&format!("/{package}/bin/{binary}")),
            "{binary}-image runs {entrypoint:?}"
        );
    }
    // And nothing is built that the workspace no longer has.
    let built: BTreeSet<&String> = built.keys().collect();
    assert_eq!(built, binaries.keys().collect());
}

/// The inputs of a build as the model reports them: (package, output) pairs.
fn inputs(v: &Value) -> BTreeSet<(&str, &str)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["output"].as_str().unwrap()))
        .collect()
}

#[test]
fn librdkafkas_cmake_build_gets_cmake_and_curls_headers() {
    // rdkafka's `cmake-build` feature (root Cargo.toml) builds the bundled librdkafka with
    // CMake, and librdkafka 2.12's rdkafka_conf.c includes <curl/curl.h> even without curl
    // (librdkafka #5135): every build of the workspace needs cmake where it runs and curl's
    // headers (its `dev` output) for the target, and without the feature needs neither.
    let features: BTreeSet<&str> = metadata()["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["dependencies"].as_array().unwrap())
        .filter(|d| d["name"] == "rdkafka")
        .flat_map(|d| strings(&d["features"]))
        .collect();
    assert!(
        !features.is_empty(),
        "no workspace crate depends on rdkafka"
    );
    let cmake_build = features.contains("cmake-build") || features.contains("cmake_build");
    let builds = flake()["rustBuilds"].as_object().unwrap();
    for build in [
        "deps",
        "clippy",
        "unit-tests",
        "queue-api",
        "grade-consumer",
    ] {
        assert!(
            builds.contains_key(build),
            "no {build} build: {:?}",
            builds.keys()
        );
    }
    for (build, v) in builds {
        let native = inputs(&v["native"]);
        let target = inputs(&v["build"]);
        assert_eq!(
            native.contains(&("cmake", "out")),
            cmake_build,
            "{build}: cmake in nativeBuildInputs (nix/rust.nix) and rdkafka's features {features:?}"
        );
        assert_eq!(
            target.contains(&("curl", "dev")),
            cmake_build,
            "{build}: curl's headers in buildInputs (nix/rust.nix) and rdkafka's features {features:?}"
        );
        // cmake's setup hook must not take crane's configure phase.
        assert_eq!(v["dontUseCmakeConfigure"], cmake_build, "{build}");
    }
    // `nix develop` builds the same workspace.
    for system in LINUX.iter().chain(&DARWIN) {
        let shell = &flake()["shells"][system];
        assert_eq!(names(&shell["packages"]).contains("cmake"), cmake_build);
        assert_eq!(
            inputs(&shell["build"]).contains(&("curl", "dev")),
            cmake_build
        );
    }
}

#[test]
fn nix_flake_check_runs_on_linux() {
    for system in LINUX {
        assert_eq!(
            names(&flake()["checks"][system]),
            BTreeSet::from(["clippy", "fmt", "unit-tests"])
        );
    }
}

#[test]
fn nix_develop_gives_every_tool_on_linux_and_macos() {
    let tools = [
        "cargo",
        "just",
        "kind",
        "kubectl",
        "skopeo",
        "google-cloud-sdk",
        "python3",
        "mariadb",
        "redis",
        "nginx",
        "nodejs_22",
        "protobuf",
        "cmake",
        "curl",
    ];
    for system in LINUX.iter().chain(&DARWIN) {
        let shell = names(&flake()["shells"][system]["packages"]);
        for tool in tools {
            assert!(shell.contains(tool), "{system}: no {tool}");
        }
        // nixpkgs builds Chromium for Linux only (the model refuses it elsewhere).
        assert_eq!(
            shell.contains("chromium"),
            system.ends_with("linux"),
            "{system}"
        );
        // Route 3's broker, nisshi, is not in nixpkgs: the bootstrap builds it, and the shell
        // sets no variable that would point the test kit elsewhere.
        let variables = names(&flake()["shells"][system]["variables"]);
        assert!(
            !variables.contains("NISSHI") && !variables.contains("TANSU"),
            "{system}"
        );
    }
}

#[test]
fn the_frontend_is_fetched_from_the_lock_alone() {
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("frontend/package-lock.json")).unwrap(),
    )
    .unwrap();
    let packages = lock["packages"].as_object().unwrap();
    // The committed lock stays registry-agnostic, and every entry can be checked.
    for (path, entry) in packages.iter().filter(|(p, _)| !p.is_empty()) {
        assert!(entry.get("resolved").is_none(), "{path} names a registry");
        assert!(entry["version"].is_string(), "{path} has no version");
        let integrity = entry["integrity"].as_str().unwrap_or_default();
        assert!(
            integrity.starts_with("sha512-"),
            "{path}: integrity {integrity:?}"
        );
    }
    // Every entry becomes a download importNpmLock can make in the sandbox.
    let sources = flake()["npmSources"].as_object().unwrap();
    assert_eq!(sources.len(), packages.len());
    for (path, source) in sources {
        let source = source.as_str().unwrap();
        if path.is_empty() {
            assert_eq!(source, "local");
        } else {
            let name = path.rsplit("node_modules/").next().unwrap();
            let version = packages[path]["version"].as_str().unwrap();
            assert!(
                source.starts_with(&format!("https://registry.invalid/{name}/-/"))
                    && source.ends_with(&format!("-{version}.tgz")),
                "{path}: {source}"
            );
        }
    }
}

/// `nix/npm-lock.nix` on a lock written for the purpose.
fn npm_lock(packages: &str, registry: &str) -> Value {
    nix_eval(&format!(
        r#"{{ repo, ifd }}: builtins.mapAttrs (_: e: e.resolved or null)
             (import (repo + "/nix/npm-lock.nix") {{
               registry = "{registry}";
               lock = {{ lockfileVersion = 3; packages = {packages}; }};
             }}).packages"#
    ))
}

#[test]
fn lock_entries_get_the_tarball_urls_npm_uses() {
    let resolved = npm_lock(
        r#"{
          "" = { name = "app"; };
          "node_modules/react" = { version = "19.3.1"; integrity = "sha512-a"; };
          "node_modules/@types/react" = { version = "19.3.0"; integrity = "sha512-b"; };
          "node_modules/a/node_modules/@s/b" = { version = "1.0.0-rc.1"; integrity = "sha512-c"; };
          "node_modules/alias" = { name = "real"; version = "2.0.0"; integrity = "sha512-d"; };
          "node_modules/mine" = { link = true; resolved = "packages/mine"; };
        }"#,
        "https://r.invalid/npm",
    );
    assert_eq!(
        resolved,
        serde_json::json!({
            "": null,
            "node_modules/react": "https://r.invalid/npm/react/-/react-19.3.1.tgz",
            "node_modules/@types/react": "https://r.invalid/npm/@types/react/-/react-19.3.0.tgz",
            "node_modules/a/node_modules/@s/b": "https://r.invalid/npm/@s/b/-/b-1.0.0-rc.1.tgz",
            "node_modules/alias": "https://r.invalid/npm/real/-/real-2.0.0.tgz",
            "node_modules/mine": "packages/mine",
        })
    );
}

/// The error of an expression (a function of `repo`, `ifd`, `tracked`) that must fail.
fn refused(expression: &str) -> String {
    let output = nix_command(expression).output().unwrap();
    assert!(!output.status.success(), "{expression} was evaluated");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_lock_entry_without_integrity_is_refused() {
    let stderr = refused(
        r#"{ repo, ... }: (import (repo + "/nix/npm-lock.nix") { registry = "https://r.invalid/"; lock = { packages = { "node_modules/x" = { version = "1.0.0"; }; }; }; }).packages"#,
    );
    assert!(
        stderr.contains("node_modules/x has no integrity"),
        "{stderr}"
    );
}

#[test]
fn the_model_refuses_what_upstream_lacks() {
    // The model is only worth something if it fails where nixpkgs would: an attribute that
    // is not there, an argument the function does not take, Chromium on macOS.
    for (expression, error) in [
        (
            "p.python3Packages.honcho",
            "attribute 'python3Packages' missing",
        ),
        (
            "p.dockerTools.buildLayeredImage { name = \"x\"; compression = \"none\"; }",
            "unexpected argument 'compression'",
        ),
        (
            "(m.nixpkgs.legacyPackages.aarch64-darwin).chromium",
            "attribute 'chromium' missing",
        ),
        (
            "(p.importNpmLock { npmRoot = repo + \"/frontend\"; }).sources",
            "has no `resolved` URL",
        ),
    ] {
        let stderr = refused(&format!(
            "{{ repo, ifd, tracked }}: let m = import (repo + \"/nix/upstream.nix\") {{ inherit ifd tracked; root = repo; }}; p = m.nixpkgs.legacyPackages.x86_64-linux; in builtins.deepSeq ({expression}) true"
        ));
        assert!(stderr.contains(error), "{expression}: {stderr}");
    }
}

/// The model's lib.fileset and crane's commonCargoSources over a made-up repository.
fn fileset(expression: &str) -> String {
    format!(
        r#"{{ repo, ... }}:
        let
          m = import (repo + "/nix/upstream.nix") {{
            ifd = "/nonexistent";
            root = /fixture;
            tracked = "Cargo.toml\nCargo.lock\n.gitignore\nsrc/main.rs\nsrc/apply.lua\nsrc/notes.toml.bak\nfuzz/Cargo.toml\nfuzz/src/lib.rs\ndocs/a.md\n";
          }};
          fs = m.nixpkgs.lib.fileset;
          crane = m.crane.mkLib m.nixpkgs.legacyPackages.x86_64-linux;
        in
        {expression}"#
    )
}

#[test]
fn the_models_file_sets_hold_what_upstreams_would() {
    // lib/fileset/{default,internal}.nix: a path is every file under it; hasExt is a suffix
    // after a dot (so `.gitignore` has the extension "gitignore"); crane's commonCargoSources
    // keeps Cargo.toml, Cargo.lock, *.rs and *.toml only.
    let sources = nix_eval(&fileset(
        r#"{
          common = (fs.toSource { root = /fixture; fileset = fs.difference (crane.fileset.commonCargoSources /fixture) /fixture/fuzz; }).files;
          withSrc = (fs.toSource { root = /fixture; fileset = fs.unions [ (crane.fileset.commonCargoSources /fixture) /fixture/src ]; }).files;
          dotfile = (fs.toSource { root = /fixture; fileset = fs.fileFilter (file: file.hasExt "gitignore") /fixture; }).files;
          named = (fs.toSource { root = /fixture/fuzz; fileset = fs.fileFilter (file: file.name == "Cargo.toml") /fixture/fuzz; }).files;
          folder = m.sourceFiles /fixture/src;
        }"#,
    ));
    assert_eq!(
        sources,
        serde_json::json!({
            "common": ["Cargo.lock", "Cargo.toml", "src/main.rs"],
            "withSrc": ["Cargo.lock", "Cargo.toml", "fuzz/Cargo.toml", "fuzz/src/lib.rs", "src/apply.lua", "src/main.rs", "src/notes.toml.bak"],
            "dotfile": [".gitignore"],
            "named": ["Cargo.toml"],
            "folder": {"root": "/fixture/src", "files": ["apply.lua", "main.rs", "notes.toml.bak"]},
        })
    );
    // And it fails where upstream fails.
    for (expression, error) in [
        (
            "fs.unions [ /fixture/target ]",
            "lib.fileset.unions: Element 0 (/fixture/target) is a path that does not exist.",
        ),
        (
            "fs.fileFilter ({ name, type, hasExt }: true) /fixture",
            "must be able to handle extra attributes",
        ),
        (
            "fs.fileFilter (file: true) (fs.unions [ /fixture/src ])",
            "Second argument is a file set, but it should be a path instead.",
        ),
        (
            "fs.toSource { root = /fixture/src; fileset = /fixture; }",
            "which is not under the `root` (/fixture/src)",
        ),
        (
            "fs.toSource { root = \"/fixture\"; fileset = /fixture; }",
            "is a string-like value, but it should be a path instead.",
        ),
        (
            "fs.difference /fixture \"src\"",
            "Second argument (negative set) is of type string, but it should be a file set or a path instead.",
        ),
    ] {
        let stderr = refused(&fileset(&format!("builtins.deepSeq ({expression}) true")));
        assert!(stderr.contains(error), "{expression}: {stderr}");
    }
}

#[test]
fn the_builds_get_the_files_they_compile_in() {
    // The lists `just nix-sources` builds from, computed from nix/rust.nix and
    // nix/frontend.nix: here only what each must hold and must not.
    let rust: BTreeSet<&str> = strings(&flake()["sources"]["rust"]["files"]).collect();
    for file in [
        "Cargo.lock",
        "proto/notas/v1/notas.proto",
        "crates/notas-core/migrations/20261123000001_courses.sql",
        "crates/notas-core/src/live/apply_records.lua",
        "crates/notas-core/src/live/merge_recent.lua",
    ] {
        assert!(rust.contains(file), "the Rust build lacks {file}");
    }
    assert!(
        rust.iter().all(|f| !f.starts_with("crates/fuzz/")),
        "the fuzz targets are outside the workspace"
    );
    let frontend: BTreeSet<&str> = strings(&flake()["sources"]["frontend"]["files"]).collect();
    assert!(frontend.contains("package-lock.json") && frontend.contains("src/main.tsx"));
}

/// crane is pinned by a release tag that nix/README.md names, and the Nix version it needs
/// is stated in nix/README.md alone: the flake, the model and the workflows point there.
#[test]
fn crane_is_pinned_by_its_tag_and_the_nix_floor_is_said_once() {
    let read = |path: &str| std::fs::read_to_string(repo().join(path)).unwrap();
    let flake = read("flake.nix");
    let url = flake
        .lines()
        .find_map(|l| l.trim().strip_prefix("crane.url = \""))
        .expect("flake.nix: no crane.url");
    let tag = url
        .trim_end_matches("\";")
        .strip_prefix("github:ipetkov/crane/")
        .unwrap_or_else(|| panic!("crane.url {url}: not a ref of ipetkov/crane"));
    let numbers: Vec<&str> = tag.trim_start_matches('v').split('.').collect();
    assert!(
        tag.starts_with('v')
            && numbers.len() == 3
            && numbers.iter().all(|n| n.parse::<u32>().is_ok()),
        "crane.url: {tag} is not a release tag"
    );
    let notes = read("nix/README.md");
    assert!(
        notes.contains(&format!("github:ipetkov/crane/{tag}")),
        "{tag}"
    );
    assert!(notes.contains("**Nix 2.31.2 or later.**"));
    let mut files = vec!["flake.nix".to_owned()];
    for folder in ["nix", ".github/workflows"] {
        for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e != "md") {
                files.push(path.strip_prefix(repo()).unwrap().display().to_string());
            }
        }
    }
    for file in files {
        assert!(
            !read(&file).contains("2.31"),
            "{file} states crane's Nix floor: point to nix/README.md"
        );
    }
}
