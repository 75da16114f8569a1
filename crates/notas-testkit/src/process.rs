//! A service run as a real child process, for what an in-process service cannot show: a
//! SIGKILL. A killed process sends nothing more, so the broker sees a member that died, not
//! one that left. [`TestProcess::stop`] is the graceful way out, by SIGTERM.
//!
//! The test's environment never reaches the child: it gets only the variables the test
//! names, and writes its output to a log file kept when the test fails.

use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

/// A child process of the test, killed with SIGKILL when dropped.
pub struct TestProcess {
    /// The address it was told to listen on (`LISTEN_ADDR`).
    pub addr: SocketAddr,
    /// Its stdout and stderr.
    pub log: PathBuf,
    name: String,
    child: Mutex<Option<Child>>,
}

impl TestProcess {
    /// Starts `program` with `LISTEN_ADDR` on a free port of 127.0.0.1, `RUST_LOG=info` and
    /// the variables of `env`, nothing else; waits until its `/healthz` answers (20 s).
    pub async fn start(name: &str, program: &Path, env: &[(&str, String)]) -> TestProcess {
        let addr = free_addr();
        let log = std::env::temp_dir().join(format!("notas-{name}-{}.log", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&log).expect("the process's log");
        let child = Command::new(program)
            .env_clear()
            .env("LISTEN_ADDR", addr.to_string())
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("log")))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let process = TestProcess {
            addr,
            log,
            name: name.to_owned(),
            child: Mutex::new(Some(child)),
        };
        process.wait_healthy().await;
        process
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_healthy(&self) {
        let (client, url) = (
            reqwest::Client::new(),
            format!("{}/healthz", self.base_url()),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            assert!(
                self.is_running(),
                "{} exited at start; its log: {}",
                self.name,
                self.log.display()
            );
            assert!(
                Instant::now() < deadline,
                "{} did not answer /healthz within 20 s; its log: {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap();
        child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process with SIGKILL and reaps it: no goodbye to the broker or the stores.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit: its exit status, or
    /// `None` if it was still running then (it is killed) or had already been reaped.
    pub async fn stop(&self, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap().take()?;
        terminate(&mut child, &self.name, within).await
    }
}

/// Sends SIGTERM to `child` and waits up to `within` for it to exit: its exit status, or
/// `None` if it was still running then (it is killed with SIGKILL).
pub(crate) async fn terminate(
    child: &mut Child,
    name: &str,
    within: Duration,
) -> Option<ExitStatus> {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "SIGTERM to {name}");
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// An address on 127.0.0.1 whose port was free a moment ago, for a process to bind.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// The binary `bin` of workspace package `package`, built (dev profile) by the cargo running
/// the tests: `CARGO_BIN_EXE_*` exists only for the tested package's own binaries. Built
/// once per test binary; cargo finds it fresh when the workspace was built already.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--locked", "--package", package, "--bin", bin])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&cargo).display()));
    assert!(output.status.success(), "cargo build of {package}'s {bin}");
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable named {bin}"));
    built.insert(bin.to_owned(), path.clone());
    path
}
