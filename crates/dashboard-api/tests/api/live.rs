//! The live view over REST, CORS, and health; the socket.io side is tested with a real
//! socket.io client in `frontend/e2e`.

use crate::helpers::{spawn_app, spawn_app_with};
use redis::AsyncCommands;
use serde_json::json;

#[tokio::test]
async fn the_snapshot_reads_total_recent_and_counts_from_redis() {
    let app = spawn_app().await;
    let (status, empty) = app.get("/api/live").await;
    assert_eq!(
        (status, empty),
        (200, json!({"total": 0, "recent": [], "counts": {}}))
    );

    let p = &app.stores.redis().prefix;
    let mut redis = app.stores.redis().connection().await;
    let record = json!({"id": 7, "carnet": 1, "nombre": "A", "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023});
    let _: () = redis.set(format!("{p}total"), 3).await.unwrap();
    let _: () = redis
        .hset(format!("{p}counts"), "SO1:2S:2023", 3)
        .await
        .unwrap();
    let _: () = redis
        .lpush(format!("{p}recent"), record.to_string())
        .await
        .unwrap();

    let (_, snapshot) = app.get("/api/live").await;
    assert_eq!(
        snapshot,
        json!({"total": 3, "recent": [record], "counts": {"SO1:2S:2023": 3}})
    );
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn_app_with(|config| {
        config.cors_origins = vec![
            "https://notas.example.run.app".into(),
            "http://localhost:5173".into(),
        ]
    })
    .await;
    let client = reqwest::Client::new();
    let ask = |origin: &'static str| {
        client
            .get(format!("{}/api/live", app.service.base_url))
            .header("origin", origin)
            .send()
    };
    let allowed = ask("https://notas.example.run.app").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://notas.example.run.app"
    );
    let other = ask("https://elsewhere.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(app.get("/readyz").await, (200, json!({"status": "ready"})));
    let _ = app.get("/api/live").await;
    let metrics = app.service.metrics().await;
    assert!(metrics.contains("path=\"/api/live\""), "{metrics}");
}
