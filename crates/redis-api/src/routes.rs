//! `POST /notas` on route 2: validate, submit to the batch writer (MySQL, then Redis:
//! [`crate::writer`]), answer with the stored record.

use crate::writer::Writer;
use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use notas_core::{
    batch::Batcher,
    grade::StoredGrade,
    http::{ApiError, GradeJson, KeyHeader},
    idempotency,
    mysql::grades::{Outcome, Submission},
    store::Store,
};
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    /// The batcher in front of route 2's [`Writer`].
    pub submissions: Batcher<Writer>,
    /// Longest a request waits for its batch (MySQL plus Redis).
    pub answer_within: Duration,
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
    let submission = Submission {
        grade: grade.clone(),
        key,
    };
    // A Redis failure does not fail the batch (the outbox applies it later), so a batch
    // that is not answered in time is MySQL's.
    let outcome = Store::MySql
        .within(state.answer_within, state.submissions.submit(submission))
        .await??;
    match outcome {
        // A retry gets the first answer again: the same grade (same key, same body), same id.
        Outcome::Stored(id) | Outcome::Retried(id) => {
            Ok((StatusCode::CREATED, Json(StoredGrade { id, grade })))
        }
        Outcome::KeyReused => Err(idempotency::reused().into()),
    }
}
