//! `POST /notas` on route 1: validate, forward over gRPC, answer with the stored record.

use crate::app::AppState;
use axum::{Json, extract::State, http::StatusCode};
use notas_core::{
    grade::{Grade, StoredGrade, field_name},
    http::{ApiError, GradeJson},
};
use notas_proto::v1::{self as pb, RegisterGradeRequest};
use tonic::Code;
use tonic_types::StatusExt;

#[tracing::instrument(skip_all, fields(carnet = grade.carnet()))]
pub async fn register(
    State(state): State<AppState>,
    GradeJson(grade): GradeJson,
) -> Result<(StatusCode, Json<StoredGrade>), ApiError> {
    let mut client = state.client.clone();
    let mut request = tonic::Request::new(RegisterGradeRequest {
        grade: Some(to_message(&grade)),
    });
    request.set_timeout(state.timeout);
    let call = tokio::time::timeout(state.timeout, client.register_grade(request));
    let response = call
        .await
        .map_err(|_| ApiError::unavailable("the grade store"))?
        .map_err(from_status)?;
    let id = response.into_inner().id;
    Ok((StatusCode::CREATED, Json(StoredGrade { id, grade })))
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

/// The server validates with the same rules, so `INVALID_ARGUMENT` is rare here (a server
/// on newer rules); it keeps its meaning, 422 naming the field. Anything else means the
/// grade was not stored: 503, so the client retries.
fn from_status(status: tonic::Status) -> ApiError {
    if status.code() == Code::InvalidArgument {
        let field = status.get_details_bad_request().and_then(|b| {
            b.field_violations
                .first()
                .and_then(|v| field_name(&v.field))
        });
        return ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: status.message().to_owned(),
            field,
        };
    }
    tracing::warn!(code = ?status.code(), message = status.message(), "grpc-server did not store the grade");
    metrics::counter!("notas_store_errors_total", "store" => "grpc").increment(1);
    ApiError::unavailable("the grade store")
}
