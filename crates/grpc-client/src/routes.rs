//! `POST /notas` on route 1: validate, forward to grpc-server (with the grades that arrive
//! together, see [`crate::forward`]), answer with the stored record.

use crate::forward::Forwarder;
use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use notas_core::{
    batch::Batcher,
    grade::{Grade, InvalidField, StoredGrade, field_name},
    http::{ApiError, GradeJson, KeyHeader},
    store::{Store, StoreError},
};
use notas_proto::v1::{self as pb, FieldViolation, RegisterGradeRequest, grade_outcome::Outcome};
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub grades: Batcher<Forwarder>,
    pub timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/notas", post(register))
        .with_state(state)
}

#[tracing::instrument(level = "debug", skip_all, fields(carnet = grade.carnet()))]
async fn register(
    State(state): State<AppState>,
    KeyHeader(key): KeyHeader,
    GradeJson(grade): GradeJson,
) -> Result<(StatusCode, Json<StoredGrade>), ApiError> {
    let request = RegisterGradeRequest {
        grade: Some(to_message(&grade)),
        idempotency_key: key.map(|k| k.to_string()).unwrap_or_default(),
    };
    // Past the timeout the grade is left out of any call not yet sent.
    let outcome = Store::GrpcServer
        .within(state.timeout, state.grades.submit(request))
        .await??;
    match outcome {
        Outcome::Id(id) => Ok((StatusCode::CREATED, Json(StoredGrade { id, grade }))),
        Outcome::Invalid(violation) => Err(refused(violation)),
        Outcome::Unavailable(why) => Err(StoreError::new(Store::GrpcServer, why).into()),
    }
}

fn to_message(g: &Grade) -> pb::Grade {
    pb::Grade {
        carnet: g.carnet().into(),
        nombre: g.nombre().to_owned(),
        curso: g.curso().code().to_owned(),
        nota: g.nota().into(),
        semestre: g.semestre().code().to_owned(),
        year: g.year().into(),
    }
}

/// The server validates with the same rules, so a refused field is rare here (a server on
/// newer rules) but for a key reused with another grade; either is a 422 naming the field.
fn refused(v: FieldViolation) -> ApiError {
    match field_name(&v.field) {
        Some(field) => ApiError::invalid(InvalidField::new(field, v.description)),
        None => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} {}", v.field, v.description),
        ),
    }
}
