//! `spawn_route`: route 3 on random ports with its own database, Redis key prefix and
//! broker: queue-api in front, and grade-consumers (started by the test) behind. The
//! consumers reach MySQL and Redis through proxies the tests can cut; queue-api reaches
//! MySQL (for the status only) through the same proxy.

use grade_consumer::{app::Application as Consumer, config::Config as ConsumerConfig};
use notas_core::{live::LiveKeys, route::Route};
use notas_testkit::{
    ANY_PORT, Stores, TestBroker, TestService,
    contract::{IngestApp, payload},
    defaults, spawn_service,
};
use queue_api::{app::Application, config::Config};
use serde_json::Value;
use std::{collections::BTreeSet, ops::Deref, time::Duration};
use tokio::task::JoinSet;

pub const BODY_LIMIT: usize = 4096;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);
/// How long a record may take from `202` to its row in the tests (a consumer joining the
/// group takes a few seconds).
pub const STORED_WITHIN: Duration = Duration::from_secs(30);

pub struct TestRoute {
    pub ingest: IngestApp,
    pub broker: TestBroker,
    pub keys: LiveKeys,
    /// The route's consumer group, a name of its own: the tests of this binary share one
    /// metrics recorder, whose lag gauges are labelled by group.
    pub group: String,
}

/// queue-api on a fresh broker whose grades topic has three partitions; no consumer yet.
pub async fn spawn_route() -> TestRoute {
    let stores = Stores::mysql_and_redis().await;
    let broker = TestBroker::start(3).await;
    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.kafka = broker.kafka_args();
    config.kafka.kafka_timeout_ms = 2000;
    config.mysql.mysql_url = stores.proxied_mysql_url();
    config.mysql.store_timeout_ms = 2000;
    config.http.request_timeout_ms = REQUEST_TIMEOUT.as_millis() as u64;
    config.http.body_limit_bytes = BODY_LIMIT;
    let app = Application::build(config).await.expect("queue-api starts");
    let service = spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown));
    TestRoute {
        keys: LiveKeys::new(stores.redis().prefix.clone()),
        ingest: IngestApp {
            service,
            stores,
            route: Route::Queue,
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
        },
        broker,
        group: format!("grade-consumer-{}", uuid::Uuid::new_v4()),
    }
}

impl TestRoute {
    /// A grade-consumer in the route's group; it stops (finishing or abandoning its batch)
    /// when the returned service is stopped or dropped.
    pub async fn consumer(&self) -> TestService {
        let stores = &self.ingest.stores;
        let mut config: ConsumerConfig = defaults();
        config.listen_addr = ANY_PORT;
        config.kafka = self.broker.kafka_args();
        config.kafka.kafka_timeout_ms = 2000;
        config.kafka_session_timeout_ms = 6000;
        config.kafka_group = self.group.clone();
        config.mysql.mysql_url = stores.proxied_mysql_url();
        config.mysql.store_timeout_ms = 2000;
        config.redis.redis_url = stores.proxied_redis_url();
        config.redis.redis_key_prefix = stores.redis().prefix.clone();
        config.redis.redis_timeout_ms = 1000;
        let app = Consumer::build(config)
            .await
            .expect("grade-consumer starts");
        spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown))
    }

    /// The route's rows: (key, carnet), by id.
    pub async fn stored(&self) -> Vec<(String, u32)> {
        sqlx::query_as(
            "SELECT CAST(k.idem_key AS CHAR), g.carnet FROM grades g
             JOIN idempotency_keys k ON k.grade_id = g.id WHERE g.route = 'queue' ORDER BY g.id",
        )
        .fetch_all(&self.stores.pool)
        .await
        .expect("the stored rows")
    }

    /// Waits until the route holds `n` rows (or [`STORED_WITHIN`] passed); its rows.
    pub async fn stored_eventually(&self, n: usize) -> Vec<(String, u32)> {
        let deadline = tokio::time::Instant::now() + STORED_WITHIN;
        loop {
            let rows = self.stored().await;
            if rows.len() >= n || tokio::time::Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The live view's total once it reaches `n` (or [`STORED_WITHIN`] passed): the consumer
    /// applies a batch to Redis just after MySQL committed it.
    pub async fn live_total_eventually(&self, n: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + STORED_WITHIN;
        loop {
            let total = self.live_total().await;
            if total >= n || tokio::time::Instant::now() > deadline {
                return total;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The live view's total.
    pub async fn live_total(&self) -> u64 {
        let mut redis = self.stores.redis().connection().await;
        let total: Option<u64> = redis::cmd("GET")
            .arg(self.keys.total())
            .query_async(&mut redis)
            .await
            .expect("the live total");
        total.unwrap_or(0)
    }
}

/// Posts grades for carnets `1..=n` at once; the keys of their 202s.
pub async fn accept(route: &TestRoute, n: u32) -> BTreeSet<String> {
    let (client, url) = (
        reqwest::Client::new(),
        format!("{}/notas", route.service.base_url),
    );
    let mut posts = JoinSet::new();
    for carnet in 1..=n {
        let request = client.post(&url).json(&payload(carnet));
        posts.spawn(async move {
            let response = request.send().await.expect("sent");
            assert_eq!(response.status(), 202);
            key_of(&response.json().await.expect("JSON"))
        });
    }
    posts.join_all().await.into_iter().collect()
}

/// The key a `202` names.
pub fn key_of(body: &Value) -> String {
    body["key"].as_str().expect("a key").to_owned()
}

impl Deref for TestRoute {
    type Target = IngestApp;
    fn deref(&self) -> &IngestApp {
        &self.ingest
    }
}
