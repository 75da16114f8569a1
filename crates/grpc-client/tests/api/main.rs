//! grpc-client over real HTTP, in front of a real grpc-server and MariaDB.

mod balance;
mod helpers;
/// grpc-server, started as its own tests start it.
#[path = "../../../grpc-server/tests/api/server.rs"]
mod server;

use helpers::{spawn_app, spawn_app_with};
use notas_testkit::contract::{eventually, get, payload, post_json};
use std::time::Duration;

notas_testkit::ingest_contract_tests!();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_server_down_gives_503_and_not_ready() {
    let app = spawn_app().await;
    assert_eq!(post_json(&app, &payload(1)).await.status, 201);

    app.server.stop();
    let refused = post_json(&app, &payload(2)).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    let not_ready = eventually(Duration::from_secs(10), || async {
        get(&app, "/readyz").await.status == 503
    })
    .await;
    assert!(
        not_ready,
        "/readyz kept answering 200 with grpc-server gone"
    );
}
