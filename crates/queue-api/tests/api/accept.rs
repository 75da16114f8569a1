//! What a client of route 3 is answered: 202 only once the broker has the grade, the same
//! refusals as the other routes, 503 while the broker is down.

use crate::helpers::{STORED_WITHIN, key_of, spawn_route};
use notas_testkit::contract::{self, eventually, get, payload, post_json, post_with_key};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_valid_grade_is_accepted_with_202_and_a_location_that_reads_its_record_once_stored() {
    let route = spawn_route().await;
    let response = reqwest::Client::new()
        .post(format!("{}/queue/notas", route.service.base_url))
        .json(&payload(233233))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-notas-route"), "queue");
    let location = header("location");
    let body: serde_json::Value = response.json().await.unwrap();
    let key = key_of(&body);
    assert_eq!(body, json!({"key": key, "status": "pending"}));
    assert_eq!(location, format!("/queue/notas/status/{key}"));

    let status_url = location;
    assert_eq!(get(&route, &status_url).await.body["status"], "pending");
    let _consumer = route.consumer().await;
    let stored = eventually(STORED_WITHIN, || async {
        get(&route, &status_url).await.body["status"] == "stored"
    })
    .await;
    assert!(stored, "the grade was not stored within {STORED_WITHIN:?}");
    let answer = get(&route, &format!("/notas/status/{key}")).await;
    let mut record = payload(233233);
    record["id"] = answer.body["record"]["id"].clone();
    assert!(record["id"].is_u64());
    assert_eq!(
        answer.body,
        json!({"key": key, "status": "stored", "record": record})
    );
    assert_eq!(route.stored().await, vec![(key, 233233)]);
}

#[tokio::test]
async fn names_every_field_out_of_its_domain() {
    insta::assert_json_snapshot!(contract::invalid_fields(&*spawn_route().await).await);
}

#[tokio::test]
async fn answers_transport_errors_in_json() {
    insta::assert_json_snapshot!(contract::transport_errors(&*spawn_route().await).await);
}

#[tokio::test]
async fn a_malformed_key_is_refused_and_a_retry_with_the_same_key_stores_once() {
    let route = spawn_route().await;
    let malformed = post_with_key(&route, b"", &payload(1)).await;
    assert_eq!(
        (malformed.status, &malformed.body["field"]),
        (400, &json!("Idempotency-Key"))
    );

    let first = post_with_key(&route, b"retry-7", &payload(7)).await;
    let again = post_with_key(&route, b"retry-7", &payload(7)).await;
    assert_eq!((first.status, again.status), (202, 202));
    assert_eq!(
        (key_of(&first.body), key_of(&again.body)),
        ("retry-7".into(), "retry-7".into())
    );
    let _consumer = route.consumer().await;
    assert_eq!(
        route.stored_eventually(1).await,
        vec![("retry-7".into(), 7)]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(route.stored().await.len(), 1, "the retry stored nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_gives_503_never_202_and_accepting_resumes_when_it_is_back() {
    let route = spawn_route().await;
    assert_eq!(post_json(&route, &payload(1)).await.status, 202);
    route.broker.kill();

    let started = Instant::now();
    let refused = post_json(&route, &payload(2)).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert_eq!(refused.route.as_deref(), Some("queue"));
    assert!(
        started.elapsed() < route.request_timeout,
        "answered within the request timeout"
    );
    assert_eq!(get(&route, "/readyz").await.status, 503);

    route.broker.restart().await;
    let back = eventually(Duration::from_secs(20), || async {
        post_json(&route, &payload(3)).await.status == 202
    })
    .await;
    assert!(back, "accepting did not resume after the broker came back");
    // Both 202s are stored. The 503 promised nothing either way: its append may have reached
    // the broker before the answer (a retry with its key would store it once).
    let _consumer = route.consumer().await;
    let carnets: Vec<u32> = route
        .stored_eventually(2)
        .await
        .iter()
        .map(|r| r.1)
        .collect();
    assert!(carnets.contains(&1) && carnets.contains(&3), "{carnets:?}");
}

#[tokio::test]
async fn serves_health_readiness_and_metrics() {
    let route = spawn_route().await;
    let health = get(&route, "/healthz").await;
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));
    let ready = get(&route, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body),
        (200, json!({"status": "ready"}))
    );
    assert_eq!(post_json(&route, &payload(5)).await.status, 202);
    let metrics = route.service.metrics().await;
    let counted = metrics.lines().any(|l| {
        l.starts_with("http_requests_total{")
            && l.contains("route=\"queue\"")
            && l.contains("path=\"/notas\"")
            && l.contains("status=\"202\"")
    });
    assert!(
        counted,
        "no request counter for POST /notas 202 in:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_names_the_key_it_made_and_a_retry_with_it_stores_the_grade_once() {
    let route = spawn_route().await;
    route.broker.kill();
    // No Idempotency-Key: queue-api makes one, and the 503 must hand it over.
    let refused = reqwest::Client::new()
        .post(format!("{}/notas", route.service.base_url))
        .json(&payload(42))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let header = refused.headers()["idempotency-key"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["key"], json!(header), "{body}");
    assert!(
        body["error"].is_string() && body["field"].is_null(),
        "{body}"
    );
    assert!(uuid::Uuid::parse_str(&header).is_ok(), "{header}");

    route.broker.restart().await;
    let retried = eventually(Duration::from_secs(20), || async {
        post_with_key(&route, header.as_bytes(), &payload(42))
            .await
            .status
            == 202
    })
    .await;
    assert!(retried, "the retry with the 503's key was not accepted");
    // The first append may have landed too, after the 503: either way one row.
    let _consumer = route.consumer().await;
    assert_eq!(route.stored_eventually(1).await, vec![(header.clone(), 42)]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(route.stored().await, vec![(header, 42)], "stored once");
}
