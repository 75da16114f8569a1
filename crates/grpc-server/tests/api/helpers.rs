//! `spawn_server`: grpc-server on random ports with its own database, reaching MySQL
//! through a proxy the tests can cut.

use clap::Parser;
use grpc_server::{app::Application, config::Config};
use notas_core::{
    shutdown::CancellationToken,
    testkit::{TcpProxy, TestDb, host_port, via},
};
use notas_proto::v1::{Grade, RegisterGradeRequest, grade_service_client::GradeServiceClient};
use sqlx::MySqlPool;
use tonic::transport::Channel;

pub struct TestServer {
    pub grpc_addr: std::net::SocketAddr,
    pub admin_url: String,
    pub pool: MySqlPool,
    pub mysql_proxy: TcpProxy,
    shutdown: CancellationToken,
    _db: TestDb,
}

pub async fn spawn_server() -> TestServer {
    if std::env::var("TEST_LOG").is_ok() {
        notas_core::telemetry::init();
    }
    let db = TestDb::new().await;
    let mysql_proxy = TcpProxy::start(&host_port(&db.url)).await;
    let config = Config::try_parse_from([
        "grpc-server",
        "--listen-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        &format!("--mysql-url={}", via(&db.url, mysql_proxy.addr)),
        "--store-timeout-ms=3000",
    ])
    .expect("test configuration");
    let app = Application::build(config)
        .await
        .expect("grpc-server starts");
    let (grpc_addr, admin_addr) = (app.grpc_addr(), app.admin_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestServer {
        grpc_addr,
        admin_url: format!("http://{admin_addr}"),
        pool: MySqlPool::connect(&db.url).await.expect("test pool"),
        mysql_proxy,
        shutdown,
        _db: db,
    }
}

impl TestServer {
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    pub async fn client(&self) -> GradeServiceClient<Channel> {
        GradeServiceClient::connect(self.grpc_url())
            .await
            .expect("connect to grpc-server")
    }

    /// One `RegisterGrade` call on a new connection; the stored id.
    pub async fn register(&self, grade: Grade) -> Result<u64, tonic::Status> {
        let request = RegisterGradeRequest { grade: Some(grade) };
        Ok(self
            .client()
            .await
            .register_grade(request)
            .await?
            .into_inner()
            .id)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
