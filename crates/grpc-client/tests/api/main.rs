//! grpc-client over real HTTP, in front of a real grpc-server and MariaDB.

mod balance;
mod helpers;
/// grpc-server, started as its own tests start it.
#[path = "../../../grpc-server/tests/api/server.rs"]
mod server;

use helpers::{spawn_app, spawn_app_with};
use notas_testkit::contract::{
    concurrent_grades_each_get_their_row, eventually, get, payload, post_json,
};
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

/// The grades that arrive together travel together: a burst takes far fewer calls than
/// grades (grpc-server counts its calls), and each still gets its own row and id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grades_arriving_together_share_calls_to_grpc_server() {
    let app = spawn_app().await;
    concurrent_grades_each_get_their_row(&app, 400).await;

    let metrics = reqwest::get(format!("{}/metrics", app.server.admin_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("grpc_requests_total{")
                && l.contains(r#"method="RegisterGrades""#)
                && l.contains(r#"code="OK""#)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no RegisterGrades calls counted in:\n{metrics}"));
    assert!(
        calls <= 200.0,
        "400 grades took {calls} calls: they were not sent together"
    );
}
