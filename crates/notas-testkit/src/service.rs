//! A service under test: its stores, its typed configuration, and the real server running
//! in-process on random ports until the test drops it.
//!
//! A crate's tests build their `Config` from [`defaults`], point it at [`Stores`] and
//! [`ANY_PORT`], build their `Application` from it and hand it to [`spawn_service`] (or
//! [`spawn_grpc_server`]) to run.

use crate::{TcpProxy, TestDb, TestRedis, host_port, via};
use notas_core::shutdown::CancellationToken;
use sqlx::MySqlPool;
use std::{
    future::Future,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
};

/// `127.0.0.1:0`: the service binds a free port.
pub const ANY_PORT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// A configuration (a service's `Config`, or a part of one such as `MySqlArgs`) at its
/// defaults, as the binary would have it with no flags and no environment variables: the
/// test's environment (`MYSQL_URL`, ...) never leaks into it, so a test sets every value
/// it relies on.
pub fn defaults<C: clap::Args>() -> C {
    let command = C::augment_args(clap::Command::new("test")).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(["test"])
        .unwrap_or_else(|e| panic!("{} has no defaults: {e}", std::any::type_name::<C>()));
    C::from_arg_matches(&matches).expect("defaults")
}

/// One test's stores: its own database and, with [`Stores::mysql_and_redis`], its own Redis
/// key prefix, each behind a [`TcpProxy`] the test can cut. With `TEST_LOG` set, creating
/// them also installs the log subscriber, so the services' logs show.
pub struct Stores {
    /// A pool on the test's database (not through the proxy), to look at what was stored.
    pub pool: MySqlPool,
    /// Between the service and MySQL.
    pub mysql_proxy: TcpProxy,
    redis: Option<(TestRedis, TcpProxy)>,
    // Dropped last: the database outlives the connections to it.
    pub db: TestDb,
}

impl Stores {
    /// A database of the test's own.
    pub async fn mysql() -> Stores {
        Stores::start(None).await
    }

    /// A database and a Redis key prefix of the test's own.
    pub async fn mysql_and_redis() -> Stores {
        let redis = TestRedis::new().await;
        let proxy = TcpProxy::start(&host_port(&redis.url)).await;
        Stores::start(Some((redis, proxy))).await
    }

    async fn start(redis: Option<(TestRedis, TcpProxy)>) -> Stores {
        show_logs_if_asked();
        let db = TestDb::new().await;
        Stores {
            pool: MySqlPool::connect(&db.admin_url).await.expect("test pool"),
            mysql_proxy: TcpProxy::start(&host_port(&db.url)).await,
            redis,
            db,
        }
    }

    /// The test's database, reached through [`Stores::mysql_proxy`].
    pub fn proxied_mysql_url(&self) -> String {
        via(&self.db.url, self.mysql_proxy.addr)
    }

    /// The test's Redis server and key prefix.
    pub fn redis(&self) -> &TestRedis {
        &self.redis_and_proxy().0
    }

    /// Between the service and Redis.
    pub fn redis_proxy(&self) -> &TcpProxy {
        &self.redis_and_proxy().1
    }

    /// The test's Redis, reached through [`Stores::redis_proxy`].
    pub fn proxied_redis_url(&self) -> String {
        via(&self.redis().url, self.redis_proxy().addr)
    }

    fn redis_and_proxy(&self) -> &(TestRedis, TcpProxy) {
        self.redis
            .as_ref()
            .expect("no Redis in these stores: start them with Stores::mysql_and_redis")
    }
}

/// An HTTP service started by [`spawn_service`]; it shuts down gracefully when stopped or
/// dropped.
pub struct TestService {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    shutdown: Shutdown,
}

impl TestService {
    /// Starts a graceful shutdown: requests in flight are answered, new ones refused.
    pub fn stop(&self) {
        self.shutdown.0.cancel();
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base_url))
            .await
            .expect("request sent")
            .text()
            .await
            .expect("metrics text")
    }
}

/// A grpc-server started by [`spawn_grpc_server`]; it shuts down gracefully when stopped or
/// dropped.
pub struct GrpcServer {
    pub grpc_addr: SocketAddr,
    /// `http://127.0.0.1:PORT` of `/healthz`, `/readyz` and `/metrics`.
    pub admin_url: String,
    shutdown: Shutdown,
}

impl GrpcServer {
    /// `http://127.0.0.1:PORT` of the gRPC service.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Starts a graceful shutdown.
    pub fn stop(&self) {
        self.shutdown.0.cancel();
    }
}

/// Runs an HTTP service that listens on `addr` until the returned [`TestService`] is stopped
/// or dropped; `run` is its `Application::run_until_stopped`:
/// `spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown))`.
pub fn spawn_service<F>(addr: SocketAddr, run: impl FnOnce(CancellationToken) -> F) -> TestService
where
    F: Future<Output: Send> + Send + 'static,
{
    TestService {
        base_url: format!("http://{addr}"),
        shutdown: spawn(run),
    }
}

/// Runs grpc-server, which listens on `grpc_addr` and `admin_addr`, as [`spawn_service`]
/// runs an HTTP service.
pub fn spawn_grpc_server<F>(
    grpc_addr: SocketAddr,
    admin_addr: SocketAddr,
    run: impl FnOnce(CancellationToken) -> F,
) -> GrpcServer
where
    F: Future<Output: Send> + Send + 'static,
{
    GrpcServer {
        grpc_addr,
        admin_url: format!("http://{admin_addr}"),
        shutdown: spawn(run),
    }
}

/// Runs the service on a task until its shutdown token is cancelled.
fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Shutdown
where
    F: Future<Output: Send> + Send + 'static,
{
    let shutdown = CancellationToken::new();
    tokio::spawn(run(shutdown.clone()));
    Shutdown(shutdown)
}

/// Cancels the service's shutdown token when dropped.
struct Shutdown(CancellationToken);

impl Drop for Shutdown {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn show_logs_if_asked() {
    if std::env::var("TEST_LOG").is_ok() {
        notas_core::telemetry::init();
    }
}
