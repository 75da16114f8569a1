//! `POST /notas` on route 2: validate, hand to the batch writer (MySQL, then Redis),
//! answer with the stored record.

use crate::app::AppState;
use axum::{Json, extract::State, http::StatusCode};
use notas_core::{
    grade::StoredGrade,
    http::{ApiError, GradeJson},
};

#[tracing::instrument(skip_all, fields(carnet = grade.carnet()))]
pub async fn register(
    State(state): State<AppState>,
    GradeJson(grade): GradeJson,
) -> Result<(StatusCode, Json<StoredGrade>), ApiError> {
    let stored = tokio::time::timeout(state.answer_within, state.writer.submit(grade))
        .await
        .map_err(|_| ApiError::unavailable("the grade store"))??;
    Ok((StatusCode::CREATED, Json(stored)))
}
