//! [`with_contract`]: what every notas HTTP service answers besides its own routes
//! (`/healthz`, `/readyz`, `/metrics`, a JSON 404) and the layers every answer goes
//! through (route header, request timeout, body limit, panic catcher, tracing, metrics).

use super::ApiError;
use crate::{route::Route, store::StoreError};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{Counter, Histogram};
use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    classify::{
        ClassifiedResponse, ClassifyResponse, MakeClassifier, NeverClassifyEos,
        ServerErrorsAsFailures, ServerErrorsFailureClass,
    },
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

/// The readiness endpoint's path.
const READYZ: &str = "/readyz";

/// Header naming the ingestion route that answered.
pub const ROUTE_HEADER: &str = "x-notas-route";
/// Request limits shared by every HTTP service.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 16 * 1024)]
    pub body_limit_bytes: usize,
    /// Longest a request may take before the service answers 503, in milliseconds.
    /// Keep it above STORE_TIMEOUT_MS so a slow store is reported by the store timeout.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,
}

/// What `/readyz` asks: `Ok` when every store the service depends on answers, else the
/// first that does not (or a reason of the service's own).
pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send>> + Send + Sync>;

/// Why a service is not ready: a store that does not answer (counted as a store error on
/// the way), or a reason of the service's own, such as the monitor's first sample.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(String);

impl NotReady {
    pub fn new(why: impl Into<String>) -> NotReady {
        NotReady(why.into())
    }
}

impl From<StoreError> for NotReady {
    fn from(e: StoreError) -> Self {
        NotReady(e.to_string())
    }
}

impl From<redis::RedisError> for NotReady {
    fn from(e: redis::RedisError) -> Self {
        StoreError::from(e).into()
    }
}

/// Wraps an async closure as a [`ReadyCheck`].
pub fn ready_check<F, Fut>(check: F) -> ReadyCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), NotReady>> + Send + 'static,
{
    Arc::new(move || Box::pin(check()))
}

/// Wraps a service's own routes with the shared endpoints and layers.
///
/// `route` is set on the ingestion services: it becomes the `x-notas-route` header of
/// every response, including errors produced by the layers themselves.
pub fn with_contract(
    app: Router,
    service: &'static str,
    route: Option<Route>,
    limits: &HttpLimits,
    ready: ReadyCheck,
) -> Router {
    // Install the recorder now: metrics recorded before it exists would be lost.
    crate::metrics::handle();
    let route_label = route.map_or("none", Route::as_str);
    let app = app
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route(READYZ, get(readyz).with_state(ready))
        .route("/metrics", get(|| async { crate::metrics::render() }))
        .fallback(|| async { ApiError::not_found() });

    // Innermost first (each `layer` wraps the ones before): the JSON mapper turns the bare
    // errors of the inner layers (timeout, panic, 405) into the contract's body, and the
    // metrics and the route header see every answer.
    app.layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(limits.request_timeout_ms),
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn_with_state(
            Tracker::new(service, route_label),
            track,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::HeaderName::from_static(ROUTE_HEADER),
            route.map(|r| HeaderValue::from_static(r.as_str())),
        ))
        .layer(TraceLayer::new(NotReadyIsNoFailure))
}

/// tower-http's classification for HTTP (a 5xx is a failure, logged at ERROR), except for
/// `/readyz` answering 503: "not ready" is what a readiness check is for (the monitor before
/// its first sample, a store that does not answer, itself counted as a store error), not a
/// failure of the service, and probes ask every few seconds.
#[derive(Clone, Copy)]
struct NotReadyIsNoFailure;

impl MakeClassifier for NotReadyIsNoFailure {
    type Classifier = ReadinessClassifier;
    type FailureClass = ServerErrorsFailureClass;
    type ClassifyEos = NeverClassifyEos<ServerErrorsFailureClass>;

    fn make_classifier<B>(&self, req: &Request<B>) -> ReadinessClassifier {
        ReadinessClassifier {
            readyz: req.uri().path() == READYZ,
        }
    }
}

/// The classifier of one request: [`ServerErrorsAsFailures`], but a 503 of `/readyz` is a success.
#[derive(Clone)]
struct ReadinessClassifier {
    readyz: bool,
}

impl ClassifyResponse for ReadinessClassifier {
    type FailureClass = ServerErrorsFailureClass;
    type ClassifyEos = NeverClassifyEos<ServerErrorsFailureClass>;

    fn classify_response<B>(
        self,
        res: &axum::http::Response<B>,
    ) -> ClassifiedResponse<Self::FailureClass, Self::ClassifyEos> {
        if self.readyz && res.status() == StatusCode::SERVICE_UNAVAILABLE {
            return ClassifiedResponse::Ready(Ok(()));
        }
        ServerErrorsAsFailures::new().classify_response(res)
    }

    fn classify_error<E: fmt::Display + 'static>(self, error: &E) -> Self::FailureClass {
        ServerErrorsAsFailures::new().classify_error(error)
    }
}

async fn readyz(State(ready): State<ReadyCheck>) -> Response {
    match ready().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(why) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"))
            .into_response(),
    }
}

/// Records `http_requests_total` and `http_request_duration_seconds`.
async fn track(State(tracker): State<Tracker>, req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().cloned();
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let path = path.as_ref().map_or("unmatched", MatchedPath::as_str);
    tracker.record(path, method, response.status(), started.elapsed());
    response
}

/// A service's request metrics, registered once per kind of answer (path, method, status)
/// and kept: looking them up by their labels on every request cost about 5% of a request's
/// instructions (callgrind, redis-api).
#[derive(Clone)]
struct Tracker {
    service: &'static str,
    route: &'static str,
    by_path: Arc<RwLock<HashMap<String, ByMethodAndStatus>>>,
}

type ByMethodAndStatus = HashMap<(&'static str, StatusCode), RequestMetrics>;

#[derive(Clone)]
struct RequestMetrics {
    requests: Counter,
    duration: Histogram,
}

impl Tracker {
    fn new(service: &'static str, route: &'static str) -> Tracker {
        Tracker {
            service,
            route,
            by_path: Arc::default(),
        }
    }

    fn record(&self, path: &str, method: &'static str, status: StatusCode, took: Duration) {
        let known = self.by_path.read().expect("not poisoned");
        let metrics = match known
            .get(path)
            .and_then(|kinds| kinds.get(&(method, status)))
        {
            Some(metrics) => metrics.clone(),
            None => {
                drop(known);
                let labels = [
                    ("service", self.service.to_owned()),
                    ("route", self.route.to_owned()),
                    ("path", path.to_owned()),
                    ("method", method.to_owned()),
                    ("status", status.as_str().to_owned()),
                ];
                let metrics = RequestMetrics {
                    requests: metrics::counter!("http_requests_total", &labels),
                    duration: metrics::histogram!("http_request_duration_seconds", &labels),
                };
                let mut known = self.by_path.write().expect("not poisoned");
                let kinds = known.entry(path.to_owned()).or_default();
                kinds.entry((method, status)).or_insert(metrics).clone()
            }
        };
        metrics.requests.increment(1);
        metrics.duration.record(took.as_secs_f64());
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER`, so clients
/// cannot add label values (and kinds to [`Tracker`]) without bound.
fn method_label(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or("OTHER", Method::as_str)
}

/// Gives error answers that lack one (from axum or tower-http) the contract's JSON body.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let reason = match status {
        StatusCode::SERVICE_UNAVAILABLE => "the request timed out; retry later".to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let replacement = ApiError::new(status, reason).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(replacement.headers().clone());
    Response::from_parts(parts, replacement.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_failure(path: &str, status: StatusCode) -> bool {
        let request = axum::http::Request::get(path).body(()).unwrap();
        let response = axum::http::Response::builder()
            .status(status)
            .body(())
            .unwrap();
        let classifier = NotReadyIsNoFailure.make_classifier(&request);
        matches!(
            classifier.classify_response(&response),
            ClassifiedResponse::Ready(Err(_))
        )
    }

    #[test]
    fn only_not_ready_is_a_5xx_that_is_no_failure() {
        assert!(!is_failure(READYZ, StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_failure(READYZ, StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_failure("/notas", StatusCode::SERVICE_UNAVAILABLE));
    }
}
