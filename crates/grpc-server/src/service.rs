//! The `notas.v1.GradeService` implementation: parse the message into a [`Grade`], hand it
//! to the batch writer, answer with the id once its batch is committed.

use metrics::{Counter, Histogram};
use notas_core::{
    batch::Batcher,
    grade::{Grade, GradeInput, InvalidField},
    idempotency::{self, IdempotencyKey},
    mysql::grades::{Outcome, RouteWriter, Submission},
    store::Store,
};
use notas_proto::v1::{
    RegisterGradeRequest, RegisterGradeResponse, grade_service_server::GradeService,
};
use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub struct GradeRpc {
    /// The batcher in front of MySQL.
    pub submissions: Batcher<RouteWriter>,
    pub store_timeout: Duration,
}

#[tonic::async_trait]
impl GradeService for GradeRpc {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn register_grade(
        &self,
        request: Request<RegisterGradeRequest>,
    ) -> Result<Response<RegisterGradeResponse>, Status> {
        let started = Instant::now();
        let result = self.register(request.into_inner()).await;
        let (calls, duration) =
            call_metrics(result.as_ref().map_or_else(|s| s.code(), |_| Code::Ok));
        calls.increment(1);
        duration.record(started.elapsed().as_secs_f64());
        result
    }
}

impl GradeRpc {
    async fn register(
        &self,
        request: RegisterGradeRequest,
    ) -> Result<Response<RegisterGradeResponse>, Status> {
        let submission = to_submission(request)?;
        let outcome = Store::MySql
            .within(self.store_timeout, self.submissions.submit(submission))
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        match outcome {
            Outcome::Stored(id) | Outcome::Retried(id) => {
                Ok(Response::new(RegisterGradeResponse { id }))
            }
            Outcome::KeyReused => Err(invalid(idempotency::reused())),
        }
    }
}

/// `grpc_requests_total` and `grpc_request_duration_seconds` of the calls answered with
/// `code` (the codes this service answers, any other as `OTHER`), registered on first use
/// rather than looked up by their labels on every call.
fn call_metrics(code: Code) -> &'static (Counter, Histogram) {
    static BY_CODE: [OnceLock<(Counter, Histogram)>; 4] = [const { OnceLock::new() }; 4];
    let (i, label) = match code {
        Code::Ok => (0, "OK"),
        Code::InvalidArgument => (1, "INVALID_ARGUMENT"),
        Code::Unavailable => (2, "UNAVAILABLE"),
        _ => (3, "OTHER"),
    };
    BY_CODE[i].get_or_init(|| {
        let labels = [("method", "RegisterGrade"), ("code", label)];
        (
            metrics::counter!("grpc_requests_total", &labels),
            metrics::histogram!("grpc_request_duration_seconds", &labels),
        )
    })
}

/// Converts the message with the same checks as the JSON entry points. proto3 scalars
/// have no presence, so an unset field arrives as its zero value and fails its range check
/// (an empty key is no key). Any error is `INVALID_ARGUMENT` (crates/fuzz holds it to that).
pub fn to_submission(request: RegisterGradeRequest) -> Result<Submission, Status> {
    let key = match request.idempotency_key.as_str() {
        "" => None,
        key => Some(IdempotencyKey::parse(key.as_bytes()).map_err(invalid)?),
    };
    let g = request
        .grade
        .ok_or_else(|| invalid(InvalidField::new("grade", "is required")))?;
    let input = GradeInput {
        carnet: Some(i64::try_from(g.carnet).unwrap_or(i64::MAX)),
        nombre: Some(g.nombre),
        curso: Some(g.curso),
        nota: Some(g.nota.into()),
        semestre: Some(g.semestre),
        year: Some(g.year.into()),
    };
    let grade = Grade::parse(input).map_err(invalid)?;
    Ok(Submission { grade, key })
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming the field.
pub fn invalid(e: InvalidField) -> Status {
    let details = ErrorDetails::with_bad_request_violation(e.field, e.reason.clone());
    Status::with_error_details(Code::InvalidArgument, e.to_string(), details)
}

fn unavailable(why: impl std::fmt::Display) -> Status {
    tracing::warn!(%why, "answering UNAVAILABLE");
    Status::unavailable(format!(
        "the grade store is unavailable ({why}); retry later"
    ))
}
