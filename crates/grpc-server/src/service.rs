//! The `notas.v1.GradeService` implementation: parse each message into a [`Grade`], hand it
//! to the batch writer, answer with the id once its batch is committed.

use metrics::{Counter, Histogram};
use notas_core::{
    batch::{Batcher, Reply},
    grade::{Grade, GradeInput, InvalidField},
    idempotency::{self, IdempotencyKey},
    mysql::grades::{Outcome, RouteWriter, Submission},
    store::Store,
};
use notas_proto::v1::{
    FieldViolation, GradeOutcome, RegisterGradeRequest, RegisterGradeResponse,
    RegisterGradesRequest, RegisterGradesResponse, grade_outcome,
    grade_service_server::GradeService,
};
use std::{
    fmt,
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
        let code = result.as_ref().map_or_else(Refused::code, |_| Code::Ok);
        record_call(Method::RegisterGrade, code, started);
        let id = result?;
        Ok(Response::new(RegisterGradeResponse { id }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn register_grades(
        &self,
        request: Request<RegisterGradesRequest>,
    ) -> Result<Response<RegisterGradesResponse>, Status> {
        let started = Instant::now();
        let outcomes = self.register_all(request.into_inner().grades).await;
        record_call(Method::RegisterGrades, Code::Ok, started);
        Ok(Response::new(RegisterGradesResponse { outcomes }))
    }
}

impl GradeRpc {
    async fn register(&self, request: RegisterGradeRequest) -> Result<u64, Refused> {
        let submission = parse(request).map_err(Refused::Invalid)?;
        let reply = Store::MySql
            .within(self.store_timeout, self.submissions.submit(submission))
            .await
            .map_err(Refused::unavailable)?;
        stored_id(reply)
    }

    /// Each grade's outcome, in order. The valid ones are submitted together, so they share
    /// the writer's batches with every other call's.
    async fn register_all(&self, requests: Vec<RegisterGradeRequest>) -> Vec<GradeOutcome> {
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut submissions = Vec::with_capacity(requests.len());
        for request in requests {
            match parse(request) {
                Ok(submission) => {
                    submissions.push(submission);
                    outcomes.push(None);
                }
                Err(e) => outcomes.push(Some(Refused::Invalid(e).into())),
            }
        }
        let submitted = submissions.len();
        let replies: Vec<Result<u64, Refused>> = match Store::MySql
            .within(self.store_timeout, self.submissions.submit_all(submissions))
            .await
        {
            Ok(replies) => replies.into_iter().map(stored_id).collect(),
            // Past the timeout every grade not answered yet is unavailable; those whose
            // batch had not formed are left out of it.
            Err(e) => vec![Err(Refused::unavailable(e)); submitted],
        };
        let mut replies = replies.into_iter();
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| match replies.next().expect("one reply per submission") {
                    Ok(id) => GradeOutcome {
                        outcome: Some(grade_outcome::Outcome::Id(id)),
                    },
                    Err(refused) => refused.into(),
                })
            })
            .collect()
    }
}

/// Why a grade was not stored: its two answers, as a call's status (`RegisterGrade`) or as
/// one outcome among others (`RegisterGrades`).
#[derive(Debug, Clone)]
enum Refused {
    /// `INVALID_ARGUMENT`: a field outside its domain, or a key reused with another grade.
    Invalid(InvalidField),
    /// `UNAVAILABLE`: not stored in time; the client retries.
    Unavailable(String),
}

impl Refused {
    fn unavailable(why: impl fmt::Display) -> Self {
        tracing::warn!(%why, "answering UNAVAILABLE");
        Refused::Unavailable(format!(
            "the grade store is unavailable ({why}); retry later"
        ))
    }

    fn code(&self) -> Code {
        match self {
            Refused::Invalid(_) => Code::InvalidArgument,
            Refused::Unavailable(_) => Code::Unavailable,
        }
    }
}

impl From<Refused> for Status {
    fn from(refused: Refused) -> Status {
        match refused {
            Refused::Invalid(e) => invalid(e),
            Refused::Unavailable(message) => Status::unavailable(message),
        }
    }
}

impl From<Refused> for GradeOutcome {
    fn from(refused: Refused) -> GradeOutcome {
        let outcome = match refused {
            Refused::Invalid(e) => grade_outcome::Outcome::Invalid(FieldViolation {
                field: e.field.to_owned(),
                description: e.reason,
            }),
            Refused::Unavailable(message) => grade_outcome::Outcome::Unavailable(message),
        };
        GradeOutcome {
            outcome: Some(outcome),
        }
    }
}

fn stored_id(reply: Reply<RouteWriter>) -> Result<u64, Refused> {
    match reply {
        Ok(Outcome::Stored(id) | Outcome::Retried(id)) => Ok(id),
        Ok(Outcome::KeyReused) => Err(Refused::Invalid(idempotency::reused())),
        Err(e) => Err(Refused::unavailable(e)),
    }
}

#[derive(Clone, Copy)]
enum Method {
    RegisterGrade,
    RegisterGrades,
}

/// Counts a call in `grpc_requests_total` and times it in `grpc_request_duration_seconds`,
/// by method and answered code (the codes this service answers, any other as `OTHER`);
/// each pair is registered on first use rather than looked up by its labels on every call.
fn record_call(method: Method, code: Code, started: Instant) {
    static BY_CALL: [OnceLock<(Counter, Histogram)>; 8] = [const { OnceLock::new() }; 8];
    let (m, method) = match method {
        Method::RegisterGrade => (0, "RegisterGrade"),
        Method::RegisterGrades => (4, "RegisterGrades"),
    };
    let (c, code) = match code {
        Code::Ok => (0, "OK"),
        Code::InvalidArgument => (1, "INVALID_ARGUMENT"),
        Code::Unavailable => (2, "UNAVAILABLE"),
        _ => (3, "OTHER"),
    };
    let (calls, duration) = BY_CALL[m + c].get_or_init(|| {
        let labels = [("method", method), ("code", code)];
        (
            metrics::counter!("grpc_requests_total", &labels),
            metrics::histogram!("grpc_request_duration_seconds", &labels),
        )
    });
    calls.increment(1);
    duration.record(started.elapsed().as_secs_f64());
}

/// Converts the message with the same checks as the JSON entry points; any error is
/// `INVALID_ARGUMENT` (crates/fuzz holds it to that).
pub fn to_submission(request: RegisterGradeRequest) -> Result<Submission, Status> {
    parse(request).map_err(invalid)
}

/// proto3 scalars have no presence, so an unset field arrives as its zero value and fails
/// its range check (an empty key is no key).
fn parse(request: RegisterGradeRequest) -> Result<Submission, InvalidField> {
    let key = match request.idempotency_key.as_str() {
        "" => None,
        key => Some(IdempotencyKey::parse(key.as_bytes())?),
    };
    let g = request
        .grade
        .ok_or_else(|| InvalidField::new("grade", "is required"))?;
    let input = GradeInput {
        carnet: Some(i64::try_from(g.carnet).unwrap_or(i64::MAX)),
        nombre: Some(g.nombre),
        curso: Some(g.curso),
        nota: Some(g.nota.into()),
        semestre: Some(g.semestre),
        year: Some(g.year.into()),
    };
    Ok(Submission {
        grade: Grade::parse(input)?,
        key,
    })
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming the field.
pub fn invalid(e: InvalidField) -> Status {
    let details = ErrorDetails::with_bad_request_violation(e.field, e.reason.clone());
    Status::with_error_details(Code::InvalidArgument, e.to_string(), details)
}
