//! [`GradeJson`]: the `POST /notas` body as a valid [`Grade`], or the contract's error for
//! the first check it fails: content type (415), size (413), JSON syntax (400), field types
//! (422), field domains (422, [`Grade::parse`]).

use super::ApiError;
use crate::grade::{Grade, GradeInput, field_name};
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};

/// A valid grade taken from a JSON request body.
#[derive(Debug)]
pub struct GradeJson(pub Grade);

impl<S: Send + Sync> FromRequest<S> for GradeJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::not_json());
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large()
            } else {
                ApiError::malformed("request body could not be read")
            }
        })?;
        let input = parse_input(&body)?;
        Ok(GradeJson(Grade::parse(input)?))
    }
}

/// Separates malformed JSON (400) from a well-formed body whose field has the wrong type
/// (422, naming the field).
fn parse_input(body: &[u8]) -> Result<GradeInput, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let input: GradeInput = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = e.path().iter().next().and_then(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => field_name(key),
            _ => None,
        });
        match (e.inner().classify(), field) {
            (serde_json::error::Category::Data, Some(field)) => {
                ApiError::invalid(crate::grade::InvalidField::new(field, "has the wrong type"))
            }
            (serde_json::error::Category::Data, None) => {
                ApiError::malformed("body must be a JSON object")
            }
            _ => ApiError::malformed(format!("malformed JSON: {}", e.inner())),
        }
    })?;
    json.end()
        .map_err(|e| ApiError::malformed(format!("malformed JSON: {e}")))?;
    Ok(input)
}
