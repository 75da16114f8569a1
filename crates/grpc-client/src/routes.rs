//! `POST /notas` on route 1: validate, forward over gRPC to grpc-server, answer with the
//! stored record.

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use notas_core::{
    grade::{Grade, InvalidField, StoredGrade, field_name},
    http::{ApiError, GradeJson, KeyHeader},
    store::{Store, StoreError},
};
use notas_proto::v1::{self as pb, RegisterGradeRequest, grade_service_client::GradeServiceClient};
use std::time::Duration;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

#[derive(Clone)]
pub struct AppState {
    pub client: GradeServiceClient<Channel>,
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
    let mut client = state.client.clone();
    let mut request = tonic::Request::new(RegisterGradeRequest {
        grade: Some(to_message(&grade)),
        idempotency_key: key.map(|k| k.to_string()).unwrap_or_default(),
    });
    request.set_timeout(state.timeout);
    let call = client.register_grade(request);
    let response = Store::GrpcServer
        .within(state.timeout, call)
        .await?
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
        let violation = status
            .get_details_bad_request()
            .and_then(|b| b.field_violations.into_iter().next());
        if let Some(v) = violation
            && let Some(field) = field_name(&v.field)
        {
            return ApiError::invalid(InvalidField::new(field, v.description));
        }
        return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, status.message());
    }
    let code = status.code();
    StoreError::new(Store::GrpcServer, format!("{code:?}: {}", status.message())).into()
}
