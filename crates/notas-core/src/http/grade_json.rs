//! The `POST /notas` request: [`GradeJson`], its body as a valid [`Grade`], or the
//! contract's error for the first check it fails: content type (415), size (413), JSON
//! syntax (400), field types (422), field domains (422, [`Grade::parse`]); and
//! [`KeyHeader`], its optional `Idempotency-Key` (400 when malformed).

use super::ApiError;
use crate::{
    grade::{Grade, GradeInput, field_name},
    idempotency::{self, IdempotencyKey},
};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
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
        Ok(GradeJson(decode(&body)?))
    }
}

/// A JSON body into a valid grade: 400 for what is not the JSON object of the contract,
/// 422 naming the first field of the wrong type or out of its domain. Never anything else
/// (crates/fuzz holds it to that).
pub fn decode(body: &[u8]) -> Result<Grade, ApiError> {
    Ok(Grade::parse(parse_input(body)?)?)
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

/// The request's `Idempotency-Key`, if it has one.
#[derive(Debug)]
pub struct KeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for KeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(idempotency::HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(KeyHeader(None));
        };
        if values.next().is_some() {
            return Err(ApiError::malformed_field(crate::grade::InvalidField::new(
                idempotency::HEADER,
                "must be sent once",
            )));
        }
        let key = IdempotencyKey::parse(value.as_bytes()).map_err(ApiError::malformed_field)?;
        Ok(KeyHeader(Some(key)))
    }
}
