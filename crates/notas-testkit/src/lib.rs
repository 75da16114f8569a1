//! Test support for the notas services (a dev-dependency of every crate's tests): real
//! MariaDB and Redis, isolated per test so tests run in parallel, and the services run
//! in-process on random ports.
//!
//! Where the servers come from, in order:
//! 1. `TEST_MYSQL_URL` / `TEST_REDIS_URL` (server URLs; `just test` sets them to the
//!    machine's MariaDB and Redis);
//! 2. otherwise, with the `containers` feature (`cargo test --features
//!    notas-testkit/containers`, off by default: testcontainers and its Docker client are a
//!    third of the tests' dependency tree), a MariaDB / Redis container started for the test;
//! 3. otherwise the test fails and says how to provide one. Never a silent skip.
//!
//! Each [`TestDb`] is a uuid-named database, dropped when the value is; each
//! [`TestRedis`] is a uuid key prefix. [`TcpProxy`] sits between a service and a store so a
//! test can cut the store off and bring it back; [`Stores`] gives a test all three.
//! [`TestBroker`] is a Kafka broker (nisshi) of the test's own, which a test can kill -9;
//! [`describe_group`] reads a consumer group's state and members from it.
//! [`TestProcess`] runs a service's binary as a child process a test can kill -9.
//! [`spawn_service`] and [`spawn_grpc_server`] start a service from its typed configuration
//! (see [`defaults`]) and stop it when dropped. [`contract`] is the wire contract's test
//! suite, run against each ingestion route by [`ingest_contract_tests!`].

mod broker;
pub mod contract;
mod group;
mod process;
mod service;

pub use broker::TestBroker;
pub use group::{GroupView, describe_group, wait_for_group};
pub use process::{TestProcess, free_addr, workspace_bin};

pub use service::{
    ANY_PORT, GrpcServer, Stores, TestService, defaults, spawn_grpc_server, spawn_service,
};

use notas_core::shutdown::CancellationToken;
use sqlx::{Connection, Executor, MySqlConnection};
use std::{any::Any, net::SocketAddr, sync::Mutex};
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

const HOW_TO: &str = "set TEST_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306) and TEST_REDIS_URL \
(e.g. redis://127.0.0.1:6379), or run `just test`, or start a Docker engine and test with \
`--features notas-testkit/containers`";

/// A container started for a test's server, kept for as long as the server is used.
type Container = Box<dyn Any + Send + Sync>;

/// The test servers a test can ask for.
#[derive(Clone, Copy)]
enum Server {
    MySql,
    Redis,
}

/// The URL of the server `var` points at or, when it is unset, of a container started for
/// the test, with the container to keep.
async fn find_server(var: &str, server: Server) -> (String, Option<Container>) {
    match std::env::var(var) {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, container) = start_container(var, server).await;
            (url, Some(container))
        }
    }
}

#[cfg(feature = "containers")]
async fn start_container(var: &str, server: Server) -> (String, Container) {
    use testcontainers_modules::{
        mariadb::Mariadb,
        redis::Redis,
        testcontainers::{Image, runners::AsyncRunner},
    };
    async fn start<I: Image + 'static>(
        var: &str,
        image: I,
        scheme: &str,
        port: u16,
    ) -> (String, Container) {
        let name = image.name().to_owned();
        let container = image.start().await.unwrap_or_else(|e| {
            panic!("no {name} for tests: {var} is unset and testcontainers failed ({e}); {HOW_TO}")
        });
        let port = container
            .get_host_port_ipv4(port)
            .await
            .unwrap_or_else(|e| panic!("{name} container: no mapped port ({e})"));
        (format!("{scheme}127.0.0.1:{port}"), Box::new(container))
    }
    match server {
        Server::MySql => start(var, Mariadb::default(), "mysql://root@", 3306).await,
        Server::Redis => start(var, Redis::default(), "redis://", 6379).await,
    }
}

#[cfg(not(feature = "containers"))]
async fn start_container(var: &str, _: Server) -> (String, Container) {
    panic!("no server for tests: {var} is unset; {HOW_TO}")
}

/// `notas_test_<uuid>`: a name no other test uses.
fn unique_name() -> String {
    format!("notas_test_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh database of the test's own, dropped at the end of the test with its user.
pub struct TestDb {
    /// URL of the database as the services' user (`MYSQL_URL`): [`TestDb::new`] made it by
    /// the migration step, with exactly the services' privileges.
    pub url: String,
    /// URL of the database as the server's administrator (the migration user), for what
    /// a test inspects or breaks behind the services' back.
    pub admin_url: String,
    /// URL of the server, without a database.
    pub server_url: String,
    /// Database name.
    pub name: String,
    /// The services' user, if the migration step made one.
    app_user: Option<String>,
    _container: Option<Container>,
}

impl TestDb {
    /// A database migrated by the migration step, and a user of the test's own that may do
    /// exactly what the services may: the services under test run as that user.
    pub async fn new() -> TestDb {
        let mut db = TestDb::empty().await;
        // User names must fit MySQL's 32 characters.
        let user = format!("nt_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let password = uuid::Uuid::new_v4().simple().to_string();
        let app_url = as_user(&db.admin_url, &user, &password);
        let admin = notas_core::mysql::MySqlArgs {
            mysql_url: db.admin_url.clone(),
            store_timeout_ms: 5000,
        };
        db.app_user = Some(user);
        notas_core::mysql::migrate::migrate(&admin, Some(&app_url))
            .await
            .expect("the migration step");
        db.url = app_url;
        db
    }

    /// A database that exists and is empty: not migrated, no user of its own.
    pub async fn empty() -> TestDb {
        let (url, container) = find_server("TEST_MYSQL_URL", Server::MySql).await;
        let server_url = server_part(&url);
        let name = unique_name();
        let mut conn = MySqlConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach the test MySQL at {server_url} ({e}); {HOW_TO}")
            });
        conn.execute(format!("CREATE DATABASE `{name}`").as_str())
            .await
            .expect("create test database");
        let admin_url = format!("{server_url}/{name}");
        TestDb {
            url: admin_url.clone(),
            admin_url,
            server_url,
            name,
            app_user: None,
            _container: container,
        }
    }
}

/// `url` with `user:password@` in place of its own credentials.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self._container.is_some() {
            return; // the container, and the database with it, goes away on its own
        }
        let (url, name, user) = (
            self.server_url.clone(),
            self.name.clone(),
            self.app_user.clone(),
        );
        // Drop runs outside async context; a short-lived runtime on its own thread does the I/O.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = MySqlConnection::connect(&url).await {
                    // The service under test may still hold a transaction open on a task of
                    // the test's runtime, which is blocked in this drop and cannot end it; its
                    // table locks would keep DROP DATABASE waiting for ever. End its
                    // connections first, as PostgreSQL's `DROP DATABASE ... FORCE` does.
                    let ours: Vec<u64> = sqlx::query_scalar(
                        "SELECT CAST(ID AS UNSIGNED) FROM information_schema.PROCESSLIST \
                         WHERE DB = ? AND ID <> CONNECTION_ID()",
                    )
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    for id in ours {
                        let _ = conn.execute(format!("KILL CONNECTION {id}").as_str()).await;
                    }
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                        .await;
                    if let Some(user) = user {
                        let _ = conn
                            .execute(format!("DROP USER IF EXISTS '{user}'@'%'").as_str())
                            .await;
                    }
                }
            });
        })
        .join();
    }
}

/// `mysql://user@host:port/db?x` → `mysql://user@host:port`.
fn server_part(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match url[scheme_end..].find('/') {
        Some(i) => url[..scheme_end + i].to_owned(),
        None => url.to_owned(),
    }
}

/// A Redis server and a key prefix no other test uses.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
    _container: Option<Container>,
}

impl TestRedis {
    pub async fn new() -> TestRedis {
        let (url, container) = find_server("TEST_REDIS_URL", Server::Redis).await;
        TestRedis {
            url,
            prefix: format!("{}:", unique_name()),
            _container: container,
        }
    }

    /// A connection of the test's own to the server, straight (not through a proxy).
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("redis client")
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }
}

/// A TCP forwarder on 127.0.0.1 that a test can sever (connections reset, new ones
/// refused), stall (connections accepted and never answered, like a hung server) and
/// restore on the same port, to play a store going away and coming back.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: String,
    running: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

impl TcpProxy {
    /// Forwards a fresh local port to `target` (`host:port`).
    pub async fn start(target: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = TcpProxy {
            addr,
            target: target.to_owned(),
            running: Mutex::new(None),
        };
        proxy.spawn(listener, Some(target.to_owned()));
        proxy
    }

    /// Closes every connection and stops listening: new connections are refused.
    pub async fn sever(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some((token, task)) = running {
            token.cancel();
            let _ = task.await; // the listener is closed once the task has ended
        }
    }

    /// Closes every connection, then accepts new ones and never answers them.
    pub async fn stall(&self) {
        self.listen(None).await;
    }

    /// Closes every connection and forwards again on the same port.
    pub async fn restore(&self) {
        self.listen(Some(self.target.clone())).await;
    }

    async fn listen(&self, target: Option<String>) {
        self.sever().await;
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        self.spawn(listener, target);
    }

    fn spawn(&self, listener: TcpListener, target: Option<String>) {
        let token = CancellationToken::new();
        let task = tokio::spawn(serve(listener, target, token.clone()));
        *self.running.lock().unwrap() = Some((token, task));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some((token, _)) = self.running.lock().unwrap().take() {
            token.cancel();
        }
    }
}

/// Accepts until `stop`; forwards each connection to `target`, or holds it silent if none.
async fn serve(listener: TcpListener, target: Option<String>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut inbound, _)) = accepted else {
            continue;
        };
        let (target, stop) = (target.clone(), stop.clone());
        tokio::spawn(async move {
            let Some(target) = target else {
                stop.cancelled().await;
                return drop(inbound);
            };
            let Ok(mut outbound) = TcpStream::connect(&target).await else {
                return;
            };
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
            }
        });
    }
}

/// `mysql://root@127.0.0.1:3306/db` → `127.0.0.1:3306`, for [`TcpProxy::start`].
pub fn host_port(url: &str) -> String {
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// `url` with its host and port replaced by `addr` (to route a service through a proxy).
pub fn via(url: &str, addr: SocketAddr) -> String {
    url.replacen(&host_port(url), &addr.to_string(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_rerouted() {
        assert_eq!(
            server_part("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306"
        );
        assert_eq!(
            server_part("mysql://root@127.0.0.1:3306/"),
            "mysql://root@127.0.0.1:3306"
        );
        assert_eq!(
            host_port("mysql://root:pw@db:3306/notas?ssl-mode=disabled"),
            "db:3306"
        );
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        let proxy: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            via("mysql://root@127.0.0.1:3306/x", proxy),
            "mysql://root@127.0.0.1:4000/x"
        );
    }
}
