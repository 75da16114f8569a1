//! The live view's Redis connection as the clusters make it: a password (kind's Redis, and
//! Memorystore's AUTH string) and TLS with a private certificate authority (Memorystore's
//! in-transit encryption), against real `redis-server` processes of the test's own.

use notas_core::live::{self, RedisArgs};
use notas_testkit::defaults;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A `redis-server` of the test's own, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` with a password, on plain TCP or, given a folder of [`certificates`],
/// on TLS only.
fn start(password: &str, tls: Option<&Path>) -> Server {
    let port = free_port();
    let mut command = Command::new("redis-server");
    command.args([
        "--save",
        "",
        "--appendonly",
        "no",
        "--requirepass",
        password,
    ]);
    command.args(["--bind", "127.0.0.1"]);
    match tls {
        None => command.args(["--port", &port.to_string()]),
        Some(dir) => command
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(dir.join("server.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("server.key")),
    };
    let server = Server {
        child: command
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/bootstrap.sh installs it)"),
        port,
    };
    // Up once its port accepts connections (dropped, hence stopped, if it never does).
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("redis-server did not listen on {port}");
}

/// A certificate authority and a server certificate for `localhost` it signed, made with
/// the openssl command line in a fresh folder.
fn certificates() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("notas-tls-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stderr(Stdio::null())
            .status()
            .expect("openssl (scripts/bootstrap.sh installs it)");
        assert!(status.success(), "openssl {args:?}");
    };
    let subject = ["-subj", "/CN=notas test CA", "-days", "1", "-nodes"];
    openssl(
        &[
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-keyout", "ca.key", "-out", "ca.pem",
            ][..],
            &subject[..],
        ]
        .concat(),
    );
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
    dir
}

fn args(url: String, ca_file: Option<PathBuf>) -> RedisArgs {
    RedisArgs {
        redis_url: url,
        redis_ca_file: ca_file,
        ..defaults()
    }
}

#[tokio::test]
async fn a_password_is_required_and_never_shown_in_the_error() {
    let server = start("s3cret-pass", None);
    let right = args(
        format!("redis://:s3cret-pass@127.0.0.1:{}", server.port),
        None,
    );
    let redis = live::connect(&right).await.expect("the right password");
    live::ping(&redis).await.unwrap();
    assert!(!format!("{right:?}").contains("s3cret-pass"));

    let wrong = args(
        format!("redis://:not-it-9f2@127.0.0.1:{}", server.port),
        None,
    );
    let error = live::connect(&wrong)
        .await
        .map(drop)
        .expect_err("a wrong password");
    assert!(!error.to_string().contains("not-it-9f2"), "{error}");
    let none = args(format!("redis://127.0.0.1:{}", server.port), None);
    let redis = live::connect(&none)
        .await
        .expect("connects, unauthenticated");
    assert!(
        live::ping(&redis).await.is_err(),
        "answered without a password"
    );
}

#[tokio::test]
async fn tls_trusts_the_authority_of_redis_ca_file_and_only_it() {
    let dir = certificates();
    let server = start("tls-pass", Some(&dir));
    let url = format!("rediss://:tls-pass@localhost:{}", server.port);
    let trusted = args(url.clone(), Some(dir.join("ca.pem")));
    let redis = live::connect(&trusted).await.expect("TLS with the CA file");
    live::ping(&redis).await.unwrap();

    // The system's store does not know this authority: every handshake fails (and, taken
    // for a server still starting, is retried until the start-up wait ends).
    let untrusted = args(url, None);
    let attempt = tokio::time::timeout(Duration::from_secs(3), live::connect(&untrusted)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "connected without trusting the CA"
    );
    let _ = std::fs::remove_dir_all(dir);
}
