//! The entry point's refusals, which ingress-nginx (and the local nginx) hands to
//! dashboard-api as `/` with `X-Code` (`custom-http-errors`, `default-backend`).

use crate::helpers::spawn_app;

async fn forwarded(app: &crate::helpers::TestApp, path: &str, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", app.service.base_url))
        .header("x-code", code)
        .header("content-type", "application/json")
        .body(r#"{"carnet": 1}"#)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn a_rate_limited_request_gets_429_with_retry_after_in_the_contracts_shape() {
    let app = spawn_app().await;
    let answer = forwarded(&app, "/", "429").await;
    assert_eq!(answer.status().as_u16(), 429);
    assert_eq!(answer.headers()["retry-after"], "1");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many requests"),
        "{body}"
    );

    let answer = forwarded(&app, "/", "413").await;
    assert_eq!(answer.status().as_u16(), 413);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "request body is too large");
}

#[tokio::test]
async fn only_the_edges_refusals_for_the_root_are_answered_so() {
    let app = spawn_app().await;
    // Another status, or another path, is an ordinary request.
    assert_eq!(forwarded(&app, "/", "500").await.status().as_u16(), 404);
    assert_eq!(
        forwarded(&app, "/api/nothing", "429")
            .await
            .status()
            .as_u16(),
        404
    );
}
