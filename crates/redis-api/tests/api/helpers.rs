//! `spawn_app`: redis-api on a random port, with its own database and Redis key prefix,
//! reaching MySQL and Redis through proxies the tests can cut.

use notas_core::{live::LiveKeys, route::Route};
use notas_testkit::{ANY_PORT, Stores, contract::IngestApp, defaults, spawn_service};
use redis_api::{app::Application, config::Config};
use std::{ops::Deref, time::Duration};

pub const BODY_LIMIT: usize = 4096;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);

pub struct TestApp {
    pub ingest: IngestApp,
    pub redis: redis::Client,
    pub keys: LiveKeys,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with `adjust` applied to the configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let stores = Stores::mysql_and_redis().await;
    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.mysql.mysql_url = stores.proxied_mysql_url();
    config.mysql.store_timeout_ms = 3000;
    config.redis.redis_url = stores.proxied_redis_url();
    config.redis.redis_key_prefix = stores.redis().prefix.clone();
    config.redis.redis_timeout_ms = 1000;
    config.outbox_interval_ms = 100;
    config.http.request_timeout_ms = REQUEST_TIMEOUT.as_millis() as u64;
    config.http.body_limit_bytes = BODY_LIMIT;
    adjust(&mut config);
    let app = Application::build(config).await.expect("redis-api starts");
    let service = spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown));

    TestApp {
        redis: redis::Client::open(stores.redis().url.as_str()).expect("redis client"),
        keys: LiveKeys::new(stores.redis().prefix.clone()),
        ingest: IngestApp {
            service,
            stores,
            route: Route::Redis,
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
        },
    }
}

impl TestApp {
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.stores.redis().connection().await
    }
}

impl Deref for TestApp {
    type Target = IngestApp;
    fn deref(&self) -> &IngestApp {
        &self.ingest
    }
}
