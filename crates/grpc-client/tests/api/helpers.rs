//! `spawn_app`: a grpc-server and a grpc-client in front of it, on random ports, with their
//! own database; grpc-server reaches MySQL through a proxy the tests can cut.

use clap::Parser;
use notas_core::{
    route::Route,
    shutdown::CancellationToken,
    testkit::{TcpProxy, TestDb, contract::IngestApp, host_port, via},
};
use sqlx::MySqlPool;
use std::{net::SocketAddr, ops::Deref, time::Duration};

pub const BODY_LIMIT: usize = 4096;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);

pub struct TestApp {
    pub ingest: IngestApp,
    client_shutdown: CancellationToken,
    server_shutdown: CancellationToken,
    _db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra flags for the MySQL writer (grpc-server).
pub async fn spawn_app_with(writer_args: &[&str]) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        notas_core::telemetry::init();
    }
    let db = TestDb::new().await;
    let mysql_proxy = TcpProxy::start(&host_port(&db.url)).await;

    let (grpc_addr, server_shutdown) =
        spawn_grpc_server(&via(&db.url, mysql_proxy.addr), writer_args).await;
    let grpc_url = format!("http://{grpc_addr}");

    let client_config = grpc_client::config::Config::try_parse_from([
        "grpc-client",
        "--listen-addr=127.0.0.1:0",
        &format!("--grpc-server-url={grpc_url}"),
        "--grpc-timeout-ms=4000",
        &format!("--request-timeout-ms={}", REQUEST_TIMEOUT.as_millis()),
        &format!("--body-limit-bytes={BODY_LIMIT}"),
    ])
    .expect("grpc-client test configuration");
    let client = grpc_client::app::Application::build(client_config)
        .await
        .expect("grpc-client starts");
    let base_url = format!("http://{}", client.addr());
    let client_shutdown = CancellationToken::new();
    tokio::spawn(client.run_until_stopped(client_shutdown.clone()));

    TestApp {
        ingest: IngestApp {
            base_url,
            pool: MySqlPool::connect(&db.url).await.expect("test pool"),
            route: Route::Grpc,
            mysql_proxy,
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
        },
        client_shutdown,
        server_shutdown,
        _db: db,
    }
}

/// A grpc-server storing into `mysql_url`; cancel the token to stop it.
pub async fn spawn_grpc_server(
    mysql_url: &str,
    extra_args: &[&str],
) -> (SocketAddr, CancellationToken) {
    let mysql_url = format!("--mysql-url={mysql_url}");
    let args = [
        "grpc-server",
        "--listen-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        &mysql_url,
        "--store-timeout-ms=3000",
    ];
    let config = grpc_server::config::Config::try_parse_from(args.iter().chain(extra_args))
        .expect("grpc-server test configuration");
    let server = grpc_server::app::Application::build(config)
        .await
        .expect("grpc-server starts");
    let addr = server.grpc_addr();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run_until_stopped(shutdown.clone()));
    (addr, shutdown)
}

impl TestApp {
    /// Starts a graceful shutdown of grpc-client (grpc-server keeps serving).
    pub fn stop(&self) {
        self.client_shutdown.cancel();
    }

    /// Stops grpc-server, leaving grpc-client running.
    pub fn stop_server(&self) {
        self.server_shutdown.cancel();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.client_shutdown.cancel();
        self.server_shutdown.cancel();
    }
}

impl Deref for TestApp {
    type Target = IngestApp;
    fn deref(&self) -> &IngestApp {
        &self.ingest
    }
}
