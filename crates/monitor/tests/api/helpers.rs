//! `spawn_app`: the monitor on a random port, sampling this machine's `/proc` every 100 ms
//! into a Redis key prefix of its own, reached through a proxy the tests can cut.

use monitor::{app::Application, config::Config};
use notas_core::live::LiveKeys;
use notas_testkit::{
    ANY_PORT, TcpProxy, TestRedis, TestService, defaults, host_port, spawn_service, via,
};
use std::path::PathBuf;

/// The `NODE_NAME` the monitor under test is given.
pub const HOST: &str = "node-under-test";

pub struct TestApp {
    pub service: TestService,
    pub redis: redis::Client,
    pub keys: LiveKeys,
    pub redis_proxy: TcpProxy,
    test_redis: TestRedis,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with `adjust` applied to the configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let test_redis = TestRedis::new().await;
    let redis_proxy = TcpProxy::start(&host_port(&test_redis.url)).await;
    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.node_name = Some(HOST.to_owned());
    config.monitor_interval_ms = 100;
    config.redis.redis_url = via(&test_redis.url, redis_proxy.addr);
    config.redis.redis_key_prefix = test_redis.prefix.clone();
    config.redis.redis_timeout_ms = 1000;
    adjust(&mut config);
    let app = Application::build(config).await.expect("monitor starts");
    let service = spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown));
    TestApp {
        service,
        redis: redis::Client::open(test_redis.url.as_str()).expect("redis client"),
        keys: LiveKeys::new(test_redis.prefix.clone()),
        redis_proxy,
        test_redis,
    }
}

impl TestApp {
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.test_redis.connection().await
    }

    /// `GET path`: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.service.base_url))
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }
}

/// A fixture `/proc` tree under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The value of the sample of metric `name` that carries every label in `labels`.
pub fn gauge(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}
