//! `spawn_app`: redis-api on a random port, with its own database and Redis key prefix,
//! reaching MySQL and Redis through proxies the tests can cut.

use clap::Parser;
use notas_core::{
    route::Route,
    shutdown::CancellationToken,
    testkit::{TcpProxy, TestDb, TestRedis, contract::IngestApp, host_port, via},
};
use redis_api::{app::Application, config::Config};
use sqlx::MySqlPool;
use std::{ops::Deref, time::Duration};

pub const BODY_LIMIT: usize = 4096;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);

pub struct TestApp {
    pub ingest: IngestApp,
    pub redis: redis::Client,
    pub keys: notas_core::live::LiveKeys,
    pub redis_proxy: TcpProxy,
    shutdown: CancellationToken,
    // Dropped last: the database outlives the connections to it.
    _redis_server: TestRedis,
    _db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra flags for the MySQL writer.
pub async fn spawn_app_with(writer_args: &[&str]) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        notas_core::telemetry::init();
    }
    let db = TestDb::new().await;
    let redis_server = TestRedis::new().await;
    let mysql_proxy = TcpProxy::start(&host_port(&db.url)).await;
    let redis_proxy = TcpProxy::start(&host_port(&redis_server.url)).await;
    let args = [
        "redis-api".to_owned(),
        "--listen-addr=127.0.0.1:0".to_owned(),
        format!("--mysql-url={}", via(&db.url, mysql_proxy.addr)),
        format!("--redis-url={}", via(&redis_server.url, redis_proxy.addr)),
        format!("--redis-key-prefix={}", redis_server.prefix),
        "--store-timeout-ms=3000".to_owned(),
        "--redis-timeout-ms=1000".to_owned(),
        "--outbox-interval-ms=100".to_owned(),
        format!("--request-timeout-ms={}", REQUEST_TIMEOUT.as_millis()),
        format!("--body-limit-bytes={BODY_LIMIT}"),
    ];
    let extra = writer_args.iter().map(|a| a.to_string());
    let config = Config::try_parse_from(args.into_iter().chain(extra)).expect("test configuration");
    let app = Application::build(config).await.expect("redis-api starts");
    let base_url = format!("http://{}", app.addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));

    TestApp {
        ingest: IngestApp {
            base_url,
            pool: MySqlPool::connect(&db.url).await.expect("test pool"),
            route: Route::Redis,
            mysql_proxy,
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
        },
        redis: redis::Client::open(redis_server.url.as_str()).expect("redis client"),
        keys: notas_core::live::LiveKeys::new(redis_server.prefix.clone()),
        redis_proxy,
        shutdown,
        _redis_server: redis_server,
        _db: db,
    }
}

impl TestApp {
    /// Starts a graceful shutdown.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.redis
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }
}

impl Deref for TestApp {
    type Target = IngestApp;
    fn deref(&self) -> &IngestApp {
        &self.ingest
    }
}
