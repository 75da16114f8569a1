//! The wire contract (docs/contract.md) as a test suite, run against each ingestion route over
//! real HTTP with real MySQL, so both routes are held to the same answers.
//!
//! A service crate's `spawn_app()` returns a value that dereferences to an [`IngestApp`], and
//! the crate invokes [`ingest_contract_tests!`](crate::ingest_contract_tests); the functions
//! here do the work and return what the generated tests pin with insta snapshots.

use crate::{Stores, TestService};
use notas_core::{grade::Course, mysql::BatchArgs, route::Route};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use std::{
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

/// A running ingestion service as the suite sees it.
pub struct IngestApp {
    /// The service that answers `POST /notas`.
    pub service: TestService,
    /// The stores behind it: the database to check what was stored, the proxy that cuts
    /// MySQL off.
    pub stores: Stores,
    pub route: Route,
    /// The service's request timeout: no answer may take longer.
    pub request_timeout: Duration,
    /// The body limit the service was started with.
    pub body_limit: usize,
}

/// The brief's example payload for student `carnet`.
pub fn payload(carnet: u32) -> Value {
    json!({"carnet": carnet, "nombre": format!("Alumno {carnet}"), "curso": "SO1", "nota": 90, "semestre": "2S", "year": 2023})
}

/// What a test looks at in an answer.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub status: u16,
    pub route: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, route, retry_after) = (
        response.status().as_u16(),
        header("x-notas-route"),
        header("retry-after"),
    );
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    Answer {
        status,
        route,
        retry_after,
        body,
    }
}

/// `POST /notas` with a body and an optional content type.
pub async fn post_raw(
    app: &IngestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}/notas", app.service.base_url))
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    answer(request.send().await.expect("request sent")).await
}

pub async fn post_json(app: &IngestApp, body: &Value) -> Answer {
    post_raw(app, Some("application/json"), body.to_string()).await
}

/// `POST /notas` of `body` with `Idempotency-Key: key` (raw bytes, to send malformed ones).
pub async fn post_with_key(app: &IngestApp, key: &[u8], body: &Value) -> Answer {
    let request = reqwest::Client::new()
        .post(format!("{}/notas", app.service.base_url))
        .header("content-type", "application/json")
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(key).expect("a header value"),
        )
        .body(body.to_string());
    answer(request.send().await.expect("request sent")).await
}

pub async fn get(app: &IngestApp, path: &str) -> Answer {
    answer(
        reqwest::get(format!("{}{path}", app.service.base_url))
            .await
            .expect("request sent"),
    )
    .await
}

async fn count_rows(pool: &MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM grades")
        .fetch_one(pool)
        .await
        .expect("count rows")
}

/// Polls `check` every 100 ms until it holds or `within` has passed.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A valid grade is answered 201 with its id and lands in MySQL with exactly its values.
pub async fn stores_a_valid_grade(app: &IngestApp) {
    let a = post_json(app, &payload(233233)).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.route.as_deref(), Some(app.route.as_str()));
    let id = a.body["id"].as_u64().expect("numeric id");
    let mut expected = payload(233233);
    expected["id"] = json!(id);
    assert_eq!(a.body, expected);

    let row: (u32, String, String, u8, String, u16, String) = sqlx::query_as(
        "SELECT carnet, nombre, curso, nota, CAST(semestre AS CHAR), year, CAST(route AS CHAR) FROM grades WHERE id = ?",
    )
    .bind(id)
    .fetch_one(&app.stores.pool)
    .await
    .expect("the stored row");
    let route = app.route.as_str().to_owned();
    assert_eq!(
        row,
        (
            233233,
            "Alumno 233233".into(),
            "SO1".into(),
            90,
            "2S".into(),
            2023,
            route
        )
    );
}

/// Every field out of its domain, missing, or of the wrong type gives 422 naming it, and
/// nothing is stored.
pub async fn invalid_fields(app: &IngestApp) -> Vec<(String, Answer)> {
    let with = |field: &str, value: Value| {
        let mut body = payload(1);
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = payload(1);
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        ("carnet", "zero", with("carnet", json!(0))),
        ("carnet", "negative", with("carnet", json!(-3))),
        ("carnet", "missing", without("carnet")),
        ("carnet", "string", with("carnet", json!("233233"))),
        ("nombre", "blank", with("nombre", json!("   "))),
        ("nombre", "too long", with("nombre", json!("n".repeat(101)))),
        ("nombre", "number", with("nombre", json!(7))),
        ("curso", "unknown", with("curso", json!("MATE1"))),
        ("curso", "lower case", with("curso", json!("so1"))),
        ("nota", "above 100", with("nota", json!(101))),
        ("nota", "fraction", with("nota", json!(90.5))),
        ("semestre", "unknown", with("semestre", json!("3S"))),
        ("semestre", "null", with("semestre", Value::Null)),
        ("year", "too early", with("year", json!(1999))),
        ("year", "missing", without("year")),
    ];
    let mut answers = Vec::new();
    for (field, case, body) in cases {
        let a = post_json(app, &body).await;
        assert_eq!(a.status, 422, "{field} {case}: {a:?}");
        assert_eq!(a.body["field"], json!(field), "{field} {case}: {a:?}");
        assert_eq!(a.route.as_deref(), Some(app.route.as_str()));
        answers.push((format!("{field}: {case}"), a));
    }
    assert_eq!(
        count_rows(&app.stores.pool).await,
        0,
        "an invalid grade was stored"
    );
    answers
}

/// Malformed JSON 400, wrong content type 415, oversized body 413, unknown path 404, wrong
/// method 405: all JSON errors carrying the route header.
pub async fn transport_errors(app: &IngestApp) -> Vec<(String, Answer)> {
    let oversized = json!({"nombre": "x".repeat(app.body_limit)}).to_string();
    let mut answers = vec![
        (
            "malformed JSON".to_owned(),
            post_raw(app, Some("application/json"), "{\"carnet\": 1,").await,
        ),
        (
            "trailing garbage".to_owned(),
            post_raw(app, Some("application/json"), format!("{} x", payload(1))).await,
        ),
        (
            "not an object".to_owned(),
            post_raw(app, Some("application/json"), "[1, 2]").await,
        ),
        (
            "text/plain".to_owned(),
            post_raw(app, Some("text/plain"), payload(1).to_string()).await,
        ),
        (
            "no content type".to_owned(),
            post_raw(app, None, payload(1).to_string()).await,
        ),
        (
            "oversized body".to_owned(),
            post_raw(app, Some("application/json"), oversized).await,
        ),
        ("unknown path".to_owned(), get(app, "/nope").await),
        ("wrong method".to_owned(), get(app, "/notas").await),
    ];
    let expected = [400, 400, 400, 415, 415, 413, 404, 405];
    for ((case, a), status) in answers.iter_mut().zip(expected) {
        assert_eq!(a.status, status, "{case}: {a:?}");
        assert_eq!(a.route.as_deref(), Some(app.route.as_str()), "{case}");
        assert!(a.body["error"].is_string(), "{case}: {a:?}");
    }
    assert_eq!(count_rows(&app.stores.pool).await, 0);
    answers
}

/// Posts grades for carnets `1..=n` at once; each task yields its carnet and answer.
fn post_concurrently(app: &IngestApp, n: u32) -> JoinSet<(u32, reqwest::Result<Answer>)> {
    let client = reqwest::Client::new();
    let url = format!("{}/notas", app.service.base_url);
    let mut requests = JoinSet::new();
    for carnet in 1..=n {
        let request = client.post(&url).json(&payload(carnet));
        requests.spawn(async move {
            match request.send().await {
                Ok(response) => (carnet, Ok(answer(response).await)),
                Err(e) => (carnet, Err(e)),
            }
        });
    }
    requests
}

/// `n` concurrent grades give exactly `n` rows and `n` distinct ids, each id the row of
/// the grade it answered.
pub async fn concurrent_grades_each_get_their_row(app: &IngestApp, n: u32) {
    let mut answered = HashMap::new();
    for (carnet, sent) in post_concurrently(app, n).join_all().await {
        let a = sent.expect("request sent");
        assert_eq!(a.status, 201, "carnet {carnet}: {a:?}");
        answered.insert(a.body["id"].as_u64().expect("id"), carnet);
    }
    assert_eq!(answered.len(), n as usize, "ids are not distinct");

    let stored: Vec<(u64, u32)> = sqlx::query_as("SELECT id, carnet FROM grades")
        .fetch_all(&app.stores.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), n as usize);
    let stored: HashMap<u64, u32> = stored.into_iter().collect();
    assert_eq!(
        stored, answered,
        "an id does not point at the row of its grade"
    );
    let carnets: HashSet<u32> = stored.values().copied().collect();
    assert_eq!(carnets.len(), n as usize);
}

/// With MySQL unreachable the answer is a prompt 503 with `Retry-After`, readiness fails,
/// and both recover, without a restart, when MySQL returns.
pub async fn mysql_outage_gives_503_then_recovers(app: &IngestApp) -> Answer {
    assert_eq!(post_json(app, &payload(1)).await.status, 201);

    app.stores.mysql_proxy.sever().await;
    let refused = prompt_503(app).await;
    let not_ready = eventually(Duration::from_secs(10), || async {
        get(app, "/readyz").await.status == 503
    })
    .await;
    assert!(not_ready, "/readyz kept answering 200 with MySQL gone");

    recovers(app).await;
    let ready = eventually(Duration::from_secs(10), || async {
        get(app, "/readyz").await.status == 200
    })
    .await;
    assert!(ready, "/readyz did not recover");
    refused
}

/// With MySQL hanging (connections accepted, never answered) the answer is still a 503
/// within the request timeout, and the service recovers when MySQL answers again.
pub async fn mysql_stall_gives_503_within_the_timeout(app: &IngestApp) {
    assert_eq!(post_json(app, &payload(1)).await.status, 201);
    app.stores.mysql_proxy.stall().await;
    prompt_503(app).await;
    recovers(app).await;
}

/// Posts a grade and checks it is refused with a 503 well within the request timeout.
async fn prompt_503(app: &IngestApp) -> Answer {
    let started = Instant::now();
    let refused = post_json(app, &payload(2)).await;
    assert!(
        started.elapsed() < app.request_timeout,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert_eq!(refused.route.as_deref(), Some(app.route.as_str()));
    refused
}

/// Brings MySQL back and checks grades are stored again, without a restart.
async fn recovers(app: &IngestApp) {
    app.stores.mysql_proxy.restore().await;
    let stored = eventually(Duration::from_secs(20), || async {
        post_json(app, &payload(3)).await.status == 201
    })
    .await;
    assert!(stored, "the service did not recover when MySQL came back");
}

/// `/healthz`, `/readyz` and `/metrics` answer; metrics count requests per route and status.
pub async fn health_and_metrics(app: &IngestApp) {
    let health = get(app, "/healthz").await;
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));
    let ready = get(app, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body),
        (200, json!({"status": "ready"}))
    );
    assert_eq!(post_json(app, &payload(5)).await.status, 201);

    let metrics = app.service.metrics().await;
    let counted = metrics.lines().any(|l| {
        l.starts_with("http_requests_total{")
            && l.contains(&format!("route=\"{}\"", app.route))
            && l.contains("path=\"/notas\"")
            && l.contains("status=\"201\"")
    });
    assert!(
        counted,
        "no request counter for POST /notas 201 in:\n{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "no latency histogram"
    );
}

/// Makes the writer commit one small batch at a time, so that while the first grade is being
/// answered the others are still queued: in flight when shutdown starts.
pub fn slow_writer(batch: &mut BatchArgs) {
    batch.batch_max_size = 10;
    batch.batch_concurrency = 1;
    batch.batch_max_wait_ms = 20;
}

/// Shutdown requested right after the first answer (with the writer made [`slow_writer`]):
/// every request already accepted is still answered 201 and stored; later ones are refused
/// at the door, never half-done.
pub async fn shutdown_answers_in_flight_requests(app: &IngestApp, n: u32) {
    let mut requests = post_concurrently(app, n);
    let (carnet, first) = requests
        .join_next()
        .await
        .expect("a request")
        .expect("task");
    let first = first.expect("request sent");
    assert_eq!(first.status, 201, "carnet {carnet}: {first:?}");
    app.service.stop();

    let mut answered_after_stop = 0;
    for (carnet, sent) in requests.join_all().await {
        if let Ok(a) = sent {
            assert_eq!(a.status, 201, "carnet {carnet}: {a:?}");
            answered_after_stop += 1;
        }
    }
    assert!(
        answered_after_stop > 0,
        "no request was in flight at shutdown"
    );
    assert_eq!(count_rows(&app.stores.pool).await, 1 + answered_after_stop);
}

/// The courses table holds exactly the domain's courses.
pub async fn courses_match_the_domain(app: &IngestApp) {
    let stored: Vec<String> = sqlx::query_scalar("SELECT code FROM courses ORDER BY code")
        .fetch_all(&app.stores.pool)
        .await
        .unwrap();
    let mut domain: Vec<String> = Course::ALL.iter().map(|c| c.code().to_owned()).collect();
    domain.sort();
    assert_eq!(stored, domain);
}

/// A retry with the same key and body is answered as the first time and stores nothing;
/// the same key with another grade is a 422 naming the header; a malformed key a 400.
pub async fn retries_with_a_key_store_once(app: &IngestApp) {
    let first = post_with_key(app, b"retry-1", &payload(101)).await;
    assert_eq!(first.status, 201, "{first:?}");
    let again = post_with_key(app, b"retry-1", &payload(101)).await;
    assert_eq!(
        (again.status, &again.body),
        (201, &first.body),
        "the first answer again"
    );
    let other = post_with_key(app, b"retry-1", &payload(102)).await;
    assert_eq!(other.status, 422, "{other:?}");
    assert_eq!(other.body["field"], "Idempotency-Key");
    assert_eq!(count_rows(&app.stores.pool).await, 1);

    let long = [b'k'; 256];
    for bad in [&b""[..], &long, "clé".as_bytes()] {
        let answer = post_with_key(app, bad, &payload(103)).await;
        assert_eq!(
            (answer.status, &answer.body["field"]),
            (400, &Value::from("Idempotency-Key")),
            "key {bad:?}: {answer:?}"
        );
    }
    assert_eq!(
        count_rows(&app.stores.pool).await,
        1,
        "nothing stored for a bad key"
    );
}

/// Many retries of one grade at once (a client that gave up and retried, several times):
/// every one answered with the same id, one row.
pub async fn concurrent_retries_store_once(app: &IngestApp, n: usize) {
    let body = payload(104);
    let tries = (0..n).map(|_| post_with_key(app, b"racing", &body));
    let answers = futures_util::future::join_all(tries).await;
    let ids: BTreeSet<u64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "{a:?}");
            a.body["id"].as_u64().expect("id")
        })
        .collect();
    assert_eq!(ids.len(), 1, "one id: {ids:?}");
    assert_eq!(count_rows(&app.stores.pool).await, 1);
}

/// Generates the contract tests for an ingestion service. Expects in scope `async fn
/// spawn_app()` and `async fn spawn_app_with(writer: impl FnOnce(&mut Config))`, where
/// `Config` is the configuration of the service that writes to MySQL (it has a `batch:
/// BatchArgs`), whose results dereference to an [`IngestApp`].
#[macro_export]
macro_rules! ingest_contract_tests {
    () => {
        use $crate::contract;

        #[tokio::test]
        async fn stores_a_valid_grade_with_its_exact_values() {
            contract::stores_a_valid_grade(&*spawn_app().await).await;
        }

        #[tokio::test]
        async fn names_every_field_out_of_its_domain() {
            insta::assert_json_snapshot!(contract::invalid_fields(&*spawn_app().await).await);
        }

        #[tokio::test]
        async fn answers_transport_errors_in_json() {
            insta::assert_json_snapshot!(contract::transport_errors(&*spawn_app().await).await);
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_thousand_concurrent_grades_give_a_thousand_rows_and_ids() {
            contract::concurrent_grades_each_get_their_row(&*spawn_app().await, 1000).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn mysql_outage_gives_503_and_recovers_without_restart() {
            insta::assert_json_snapshot!(
                contract::mysql_outage_gives_503_then_recovers(&*spawn_app().await).await
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_hung_mysql_gives_503_within_the_timeout() {
            contract::mysql_stall_gives_503_within_the_timeout(&*spawn_app().await).await;
        }

        #[tokio::test]
        async fn serves_health_readiness_and_metrics() {
            contract::health_and_metrics(&*spawn_app().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn shutdown_answers_every_request_in_flight() {
            let app = spawn_app_with(|config| contract::slow_writer(&mut config.batch)).await;
            contract::shutdown_answers_in_flight_requests(&*app, 200).await;
        }

        #[tokio::test]
        async fn a_retry_with_the_same_key_stores_nothing() {
            contract::retries_with_a_key_store_once(&*spawn_app().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_retries_with_one_key_store_one_row() {
            contract::concurrent_retries_store_once(&*spawn_app().await, 20).await;
        }

        #[tokio::test]
        async fn the_courses_table_matches_the_domain() {
            contract::courses_match_the_domain(&*spawn_app().await).await;
        }
    };
}
