//! Client-side balancing: calls spread over every grpc-server the resolver returns, and
//! stop going to one it no longer returns.

use crate::server::start_grpc_server;
use grpc_client::balance::{balanced_channel, discover};
use notas_proto::v1::{Grade, RegisterGradeRequest, grade_service_client::GradeServiceClient};
use notas_testkit::TestDb;
use sqlx::MySqlPool;
use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

async fn rows(db: &TestDb) -> i64 {
    let pool = MySqlPool::connect(&db.url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM grades")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn register(client: &GradeServiceClient<tonic::transport::Channel>, n: u64) {
    let calls = (1..=n).map(|carnet| {
        let mut client = client.clone();
        let grade = Grade {
            carnet,
            nombre: "A".into(),
            curso: "SA".into(),
            nota: 70,
            semestre: "1S".into(),
            year: 2023,
        };
        async move {
            client
                .register_grade(RegisterGradeRequest {
                    grade: Some(grade),
                    ..Default::default()
                })
                .await
                .expect("stored")
        }
    });
    for call in calls.collect::<Vec<_>>() {
        call.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_spread_over_every_replica_and_leave_a_removed_one() {
    let (db_a, db_b) = (TestDb::new().await, TestDb::new().await);
    let server_a = start_grpc_server(db_a.url.clone(), |_| {}).await;
    let server_b = start_grpc_server(db_b.url.clone(), |_| {}).await;
    let (a, b) = (server_a.grpc_addr, server_b.grpc_addr);
    let replicas: Arc<Mutex<HashSet<SocketAddr>>> = Arc::new(Mutex::new([a, b].into()));
    let resolved = Arc::clone(&replicas);
    let resolve = move || {
        let found = resolved.lock().unwrap().clone();
        async move { Ok(found) }
    };
    let client = GradeServiceClient::new(discover(
        resolve,
        Duration::from_millis(50),
        Duration::from_secs(1),
    ));

    register(&client, 200).await;
    let (on_a, on_b) = (rows(&db_a).await, rows(&db_b).await);
    assert_eq!(on_a + on_b, 200);
    assert!(
        on_a > 0 && on_b > 0,
        "calls were not spread: {on_a} on A, {on_b} on B"
    );

    replicas.lock().unwrap().remove(&b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    register(&client, 50).await;
    assert_eq!(
        rows(&db_b).await,
        on_b,
        "calls still reach a removed replica"
    );
    assert_eq!(rows(&db_a).await, on_a + 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_urls_are_balanced_over_together() {
    let (db_a, db_b) = (TestDb::new().await, TestDb::new().await);
    let server_a = start_grpc_server(db_a.url.clone(), |_| {}).await;
    let server_b = start_grpc_server(db_b.url.clone(), |_| {}).await;
    let urls = format!(
        "http://{}, http://{}",
        server_a.grpc_addr, server_b.grpc_addr
    );
    let channel = balanced_channel(&urls, Duration::from_secs(5), Duration::from_secs(1)).unwrap();

    register(&GradeServiceClient::new(channel), 200).await;
    let (on_a, on_b) = (rows(&db_a).await, rows(&db_b).await);
    assert_eq!(on_a + on_b, 200);
    assert!(
        on_a > 0 && on_b > 0,
        "calls were not spread: {on_a} on A, {on_b} on B"
    );
    assert!(
        balanced_channel(
            "http://a:1,not a url",
            Duration::from_secs(1),
            Duration::from_secs(1)
        )
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_leaves_the_balancer_until_it_accepts_again() {
    let (db_a, db_b) = (TestDb::new().await, TestDb::new().await);
    let server_a = start_grpc_server(db_a.url.clone(), |_| {}).await;
    let server_b = start_grpc_server(db_b.url.clone(), |_| {}).await;
    let replicas: HashSet<SocketAddr> = [server_a.grpc_addr, server_b.grpc_addr].into();
    // The resolver still returns B after it stopped, as DNS does for a while.
    let resolve = move || {
        let found = replicas.clone();
        async move { Ok(found) }
    };
    let client = GradeServiceClient::new(discover(
        resolve,
        Duration::from_secs(60),
        Duration::from_secs(1),
    ));
    register(&client, 50).await;
    assert!(rows(&db_b).await > 0, "B took part before it stopped");

    server_b.stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // `register` fails the test if any call fails.
    register(&client, 100).await;
    assert_eq!(rows(&db_a).await + rows(&db_b).await, 150);
}
