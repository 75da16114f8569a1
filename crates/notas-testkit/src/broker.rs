//! [`TestBroker`]: a Kafka broker of the test's own, a real nisshi process (the broker `just
//! dev` runs) with its SQLite file in a folder of its own, on a free port. A test can kill it
//! with SIGKILL and start it again on the same port and file, to check what survives.
//!
//! The binary: `NISSHI` if set, else `.dev/bin/nisshi` (installed by `scripts/bootstrap.sh`,
//! waited for while the bootstrap is still building it).

use notas_queue::kafka::KafkaArgs;
use std::{
    io::Write,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct TestBroker {
    pub addr: SocketAddr,
    folder: PathBuf,
    process: Mutex<Option<Child>>,
}

impl TestBroker {
    /// Starts a broker and creates the grades topic (`partitions` partitions) and the
    /// dead-letter topic.
    pub async fn start(partitions: i32) -> TestBroker {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let folder = std::env::temp_dir().join(format!("notas-broker-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&folder).expect("the broker's folder");
        let broker = TestBroker {
            addr,
            folder,
            process: Mutex::new(None),
        };
        broker.restart().await;
        broker
            .kafka_args()
            .create_topics(partitions, 1)
            .await
            .expect("the topics");
        broker
    }

    /// Settings that reach this broker, with the default topic names.
    pub fn kafka_args(&self) -> KafkaArgs {
        let mut args: KafkaArgs = crate::defaults();
        args.kafka_brokers = self.addr.to_string();
        args
    }

    /// Kills the broker with SIGKILL: no flush, no goodbye.
    pub fn kill(&self) {
        if let Some(mut process) = self.process.lock().unwrap().take() {
            process.kill().expect("SIGKILL the broker");
            process.wait().expect("the broker ends");
        }
    }

    /// Starts the broker (again) on the same port and storage file, and waits until it
    /// accepts connections.
    pub async fn restart(&self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.folder.join("broker.log"))
            .expect("the broker's log");
        let url = format!("tcp://{}", self.addr);
        let process = Command::new(nisshi())
            .current_dir(&self.folder)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://grades.db"])
            .args(["--group-initial-rebalance-delay", GROUP_DELAY])
            // At INFO nisshi writes a line per span, which costs more CPU than the test's
            // load; a panic is written at any level.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {HOW_TO}", nisshi().display()));
        *self.process.lock().unwrap() = Some(process);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the broker did not listen on {} within 10 s; its log: {}",
                self.addr,
                self.folder.join("broker.log").display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl TestBroker {
    /// The broker's stdout and stderr, kept across restarts (deleted with the broker).
    pub fn log_path(&self) -> PathBuf {
        self.folder.join("broker.log")
    }

    /// The lines of the broker's log that report a panic (`panicked`), so far.
    pub fn panics(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("panicked"))
            .map(str::to_owned)
            .collect()
    }

    /// Stops the broker gracefully (SIGTERM) and waits up to `within` for it to exit: its
    /// exit status, or `None` if it had to be killed or was not running.
    pub async fn stop(&self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut process = self.process.lock().unwrap().take()?;
        crate::process::terminate(&mut process, "the broker", within).await
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// How long the first join of an empty consumer group waits for more members (Kafka's
/// `group.initial.rebalance.delay.ms`). Measured on nisshi 0.8.1, 3 partitions, members
/// started together: 1 s forms a group of two in one generation, 2.0 s after the joins.
/// nisshi's default, 3 s, takes 6.1 s (a new member extends the delay once), and 0 s takes
/// two generations, 2.0 to 3.4 s, as the first member learns of the second only from its
/// next heartbeat. A lone member gets its partitions after the delay.
const GROUP_DELAY: &str = "1s";

const HOW_TO: &str = "run scripts/bootstrap.sh (it installs nisshi into .dev/bin; its build's log is \
.dev/nisshi-build.log), or set NISSHI to a nisshi 0.8.1 binary built with its libsql feature";

fn nisshi() -> PathBuf {
    if let Some(path) = std::env::var_os("NISSHI") {
        return PathBuf::from(path);
    }
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.dev");
    wait_for_build(&dev.join("nisshi-build.lock"));
    dev.join("bin/nisshi")
}

/// scripts/bootstrap.sh builds nisshi in the background, holding this lock (flock) until the
/// binary is linked: a test that needs the broker waits here, the others run meanwhile.
fn wait_for_build(lock: &Path) {
    let Ok(file) = std::fs::File::open(lock) else {
        return;
    };
    if file.try_lock().is_err() {
        // Past the test harness's capture of `eprintln!`: a waiting test should say why.
        let _ = writeln!(
            std::io::stderr(),
            "waiting for the bootstrap's build of nisshi (.dev/nisshi-build.log)"
        );
        file.lock().expect("waiting on .dev/nisshi-build.lock");
    }
}
