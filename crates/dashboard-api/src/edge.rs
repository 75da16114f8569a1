//! The entry point's own refusals, in the contract's JSON. The edge (ingress-nginx on kind,
//! the local nginx) refuses a client over its per-address rate limit (429) and a body over
//! its size limit (413) before any service sees the request; with `custom-http-errors` it
//! hands the answer to this service (`default-backend`) as a request for `/` carrying the
//! status in `X-Code` (ingress-nginx's `CUSTOM_ERRORS` locations, rootfs/etc/nginx/template/
//! nginx.tmpl), and returns our answer unchanged: the same body, and `Retry-After`.

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use notas_core::http::ApiError;

/// The header ingress-nginx names the refused request's status in.
const CODE: &str = "x-code";

/// Answers an edge refusal forwarded here; any other request goes on.
pub async fn refusals(request: Request, next: Next) -> Response {
    let code = request.headers().get(CODE).and_then(|c| c.to_str().ok());
    match (request.uri().path(), code) {
        ("/", Some("429")) => ApiError::rate_limited().into_response(),
        ("/", Some("413")) => ApiError::too_large().into_response(),
        _ => next.run(request).await,
    }
}
