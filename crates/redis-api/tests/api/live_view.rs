//! The Redis side of route 2: what the live view holds after a batch, and what happens
//! when Redis fails after MySQL has committed.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use futures_util::StreamExt;
use notas_core::live::LiveView;
use notas_core::{
    grade::{Grade, StoredGrade},
    live::RedisArgs,
    mysql::{MySqlArgs, grades::GradeStore},
    route::Route,
};
use notas_testkit::{
    contract::{eventually, get, payload, post_json},
    defaults,
};
use redis::AsyncCommands;
use redis_api::rebuild::rebuild_if_lost;
use serde_json::{Value, json};
use std::{collections::HashMap, time::Duration};

/// A record as the live view keeps it: the `201` body and the route that stored it.
fn live_record(answered: &Value) -> Value {
    let mut record = answered.clone();
    record["route"] = json!("redis");
    record
}

#[tokio::test]
async fn each_record_updates_total_counts_recent_list_and_events() {
    let app = spawn_app().await;
    let mut events = app.redis.get_async_pubsub().await.unwrap();
    events.subscribe(app.keys.events()).await.unwrap();

    let mut bd1 = payload(7);
    bd1["curso"] = json!("BD1");
    let first = post_json(&app, &payload(5)).await;
    let second = post_json(&app, &bd1).await;
    assert_eq!((first.status, second.status), (201, 201));

    let mut redis = app.redis().await;
    let total: u64 = redis.get(app.keys.total()).await.unwrap();
    assert_eq!(total, 2);
    let so1: u64 = redis.hget(app.keys.counts(), "SO1:2S:2023").await.unwrap();
    let bd1_count: u64 = redis.hget(app.keys.counts(), "BD1:2S:2023").await.unwrap();
    assert_eq!((so1, bd1_count), (1, 1));
    let recent: Vec<String> = redis.lrange(app.keys.recent(), 0, -1).await.unwrap();
    let recent: Vec<Value> = recent
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(
        recent,
        vec![live_record(&second.body), live_record(&first.body)],
        "newest first, as answered"
    );

    let mut announced = Vec::new();
    let mut messages = events.on_message();
    while announced.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("an event")
            .unwrap();
        let batch: Vec<Value> =
            serde_json::from_str(&message.get_payload::<String>().unwrap()).unwrap();
        announced.extend(batch);
    }
    assert_eq!(
        announced,
        vec![live_record(&first.body), live_record(&second.body)]
    );
}

#[tokio::test]
async fn the_recent_list_is_bounded() {
    let app = spawn_app().await;
    for carnet in 1..=105 {
        assert_eq!(post_json(&app, &payload(carnet)).await.status, 201);
    }
    let mut redis = app.redis().await;
    let len: usize = redis.llen(app.keys.recent()).await.unwrap();
    assert_eq!(len, 100, "LIVE_RECENT_LIMIT defaults to 100");
    let total: u64 = redis.get(app.keys.total()).await.unwrap();
    assert_eq!(total, 105);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_keeps_the_record_and_the_live_view_catches_up() {
    let app = spawn_app().await;
    app.stores.redis_proxy().sever().await;

    let answer = post_json(&app, &payload(42)).await;
    assert_eq!(
        answer.status, 201,
        "MySQL committed, so the grade is registered: {answer:?}"
    );
    let id = answer.body["id"].as_u64().unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grades WHERE id = ?")
        .bind(id)
        .fetch_one(&app.stores.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let owed: Vec<u64> = sqlx::query_scalar("SELECT first_id FROM live_backlog")
        .fetch_all(&app.stores.pool)
        .await
        .unwrap();
    assert_eq!(owed, vec![id], "the batch is still owed to the live view");
    let ready = get(&app, "/readyz").await;
    assert_eq!(ready.status, 503, "{ready:?}");

    let mut redis = app.redis().await;
    let total: Option<u64> = redis.get(app.keys.total()).await.unwrap();
    assert_eq!(total, None, "nothing reached Redis during the outage");

    app.stores.redis_proxy().restore().await;
    assert!(
        total_reaches(&app, 1).await,
        "the live view did not catch up after Redis returned"
    );
    let recent: Vec<String> = redis.lrange(app.keys.recent(), 0, -1).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&recent[0]).unwrap(),
        live_record(&answer.body)
    );
    assert!(
        backlog_clears(&app).await,
        "the backlog is emptied once replayed"
    );
}

#[tokio::test]
async fn a_batch_committed_without_its_live_update_is_applied_by_the_outbox() {
    // As when the commit went through but its answer was lost to the store timeout (the
    // retry is answered from the key, perhaps by route 1), or the writer died after it: the
    // grades are in MySQL and nothing was sent to Redis.
    let app = spawn_app().await;
    assert_eq!(post_json(&app, &payload(1)).await.status, 201);
    let mut redis = app.redis().await;
    // The view is built (so no rebuild from MySQL will catch what follows), and the batch
    // its writer applied is cleared without a replay.
    assert!(
        marked_built(&app).await,
        "the live view was never marked built"
    );
    assert!(backlog_clears(&app).await, "the applied batch stays owed");

    let (store, _) = stores_of(&app).await;
    let grades: Vec<_> = (2..=4)
        .map(|carnet| {
            Grade::parse(serde_json::from_value(payload(carnet)).unwrap())
                .unwrap()
                .into()
        })
        .collect();
    store.insert(Route::Redis, &grades).await.unwrap();

    assert!(
        total_reaches(&app, 4).await,
        "the outbox did not apply the committed batch"
    );
    let counted: u64 = redis.hget(app.keys.counts(), "SO1:2S:2023").await.unwrap();
    assert_eq!(counted, 4);
    assert!(backlog_clears(&app).await, "the replayed batch stays owed");
}

/// Whether the live view's total reaches `n` within a few outbox rounds.
async fn total_reaches(app: &TestApp, n: u64) -> bool {
    let redis = app.redis().await;
    eventually(Duration::from_secs(10), || {
        let mut redis = redis.clone();
        let key = app.keys.total();
        async move { redis.get::<_, Option<u64>>(key).await.unwrap() == Some(n) }
    })
    .await
}

/// Whether the live view is marked built within a few outbox rounds.
async fn marked_built(app: &TestApp) -> bool {
    let redis = app.redis().await;
    eventually(Duration::from_secs(10), || {
        let mut redis = redis.clone();
        let key = app.keys.built();
        async move { redis.exists::<_, bool>(key).await.unwrap() }
    })
    .await
}

/// Whether the live view's backlog empties within a few outbox rounds.
async fn backlog_clears(app: &TestApp) -> bool {
    eventually(Duration::from_secs(10), || async {
        let owed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM live_backlog")
            .fetch_one(&app.stores.pool)
            .await
            .unwrap();
        owed == 0
    })
    .await
}

#[tokio::test]
async fn records_applied_again_count_once() {
    // After a Redis stall, the script whose reply timed out still runs when Redis resumes,
    // and the outbox replays the same records: the second time must change nothing.
    let app = spawn_app().await;
    let answers = [
        post_json(&app, &payload(11)).await,
        post_json(&app, &payload(12)).await,
    ];
    assert!(answers.iter().all(|a| a.status == 201));
    let stored: Vec<StoredGrade> = answers
        .iter()
        .map(|a| StoredGrade {
            id: a.body["id"].as_u64().unwrap(),
            grade: Grade::parse(serde_json::from_value(a.body.clone()).unwrap()).unwrap(),
        })
        .collect();

    let mut redis = app.redis().await;
    let before: (u64, u64, Vec<String>) = (
        redis.get(app.keys.total()).await.unwrap(),
        redis.hget(app.keys.counts(), "SO1:2S:2023").await.unwrap(),
        redis.lrange(app.keys.recent(), 0, -1).await.unwrap(),
    );
    let mut args: RedisArgs = defaults();
    args.redis_url = app.ingest.stores.redis().url.clone();
    args.redis_key_prefix = app.ingest.stores.redis().prefix.clone();
    let live_view = LiveView::connect(&args, 100, Route::Redis).await.unwrap();
    assert_eq!(live_view.apply(&stored).await.unwrap(), 0, "nothing new");

    let after: (u64, u64, Vec<String>) = (
        redis.get(app.keys.total()).await.unwrap(),
        redis.hget(app.keys.counts(), "SO1:2S:2023").await.unwrap(),
        redis.lrange(app.keys.recent(), 0, -1).await.unwrap(),
    );
    assert_eq!(after, before);
    assert_eq!(before.0, 2);
}

#[tokio::test]
async fn a_live_view_lost_with_redis_is_rebuilt_from_mysql() {
    // The service's own rounds would rebuild at any moment; this test runs the rebuild
    // itself, at the worst one: after grades written since the loss reached the view.
    let app = spawn_app_with(|c| c.outbox_interval_ms = 3_600_000).await;
    let mut redis = app.redis().await;
    assert!(
        marked_built(&app).await,
        "a new live view is marked built at start"
    );
    for carnet in 1..=30 {
        let mut grade = payload(carnet);
        grade["curso"] = json!(if carnet % 3 == 0 { "BD1" } else { "SO1" });
        assert_eq!(post_json(&app, &grade).await.status, 201);
    }
    // A route 1 grade is in MySQL but never in the live view.
    sqlx::query(
        "INSERT INTO grades (carnet, nombre, curso, nota, semestre, year, route) \
         VALUES (9, 'Uno', 'SO1', 70, '2S', 2023, 'grpc')",
    )
    .execute(&app.stores.pool)
    .await
    .unwrap();

    // Redis restarts empty (it keeps nothing on disk), and grades keep arriving.
    let keys: Vec<String> = redis
        .keys(format!("{}*", app.stores.redis().prefix))
        .await
        .unwrap();
    let _: () = redis.del(keys).await.unwrap();
    for carnet in 31..=40 {
        assert_eq!(post_json(&app, &payload(carnet)).await.status, 201);
    }

    let (store, live_view) = stores_of(&app).await;
    assert_eq!(rebuild_if_lost(&store, &live_view).await.unwrap(), Some(30));
    assert_eq!(
        rebuild_if_lost(&store, &live_view).await.unwrap(),
        None,
        "rebuilt once"
    );
    let total: u64 = redis.get(app.keys.total()).await.unwrap();
    let counts: HashMap<String, u64> = redis.hgetall(app.keys.counts()).await.unwrap();
    assert_eq!(total, 40, "every route 2 grade once, none of route 1");
    assert_eq!(
        counts,
        [
            ("SO1:2S:2023".to_owned(), 30),
            ("BD1:2S:2023".to_owned(), 10)
        ]
        .into()
    );
    let recent: Vec<String> = redis.lrange(app.keys.recent(), 0, -1).await.unwrap();
    let carnets: Vec<u64> = recent
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r).unwrap()["carnet"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(carnets, (1..=40).rev().collect::<Vec<_>>(), "newest first");
}

/// The service's stores, connected as it connects them.
async fn stores_of(app: &TestApp) -> (GradeStore, LiveView) {
    let mut mysql: MySqlArgs = defaults();
    mysql.mysql_url = app.stores.db.url.clone();
    let store = GradeStore::connect(&mysql, &defaults()).await.unwrap();
    let mut args: RedisArgs = defaults();
    args.redis_url = app.ingest.stores.redis().url.clone();
    args.redis_key_prefix = app.ingest.stores.redis().prefix.clone();
    (
        store,
        LiveView::connect(&args, 100, Route::Redis).await.unwrap(),
    )
}
