//! Grades on their way to grpc-server: the ones that arrive together travel in one
//! `RegisterGrades` call, each coming back with its own outcome.
//!
//! A [`Batcher`] whose batches are calls. At low load a grade is sent alone at once
//! (no wait); under load the grades queue while [`CALLS_IN_FLIGHT`] calls are out, and
//! the next call takes them all, so a call's cost (HTTP/2 frames and headers, a task and
//! a timer on each side) is paid per group. Each HTTP request still gets its own answer.

use notas_core::{
    batch::{BatchConfig, Batcher, Flush},
    store::{Store, StoreError},
};
use notas_proto::v1::{
    RegisterGradeRequest, RegisterGradesRequest, grade_outcome::Outcome,
    grade_service_client::GradeServiceClient,
};
use std::time::Duration;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// Calls to grpc-server at once. One would leave a replica idle while the others commit;
/// grpc-server's writer merges what arrives while it commits, so a few suffice.
pub const CALLS_IN_FLIGHT: usize = 4;
/// Most grades in one call: about 40 KB of protobuf.
pub const GRADES_PER_CALL: usize = 256;
/// Grades waiting for a call before handlers wait to queue theirs.
const QUEUE: usize = 4096;

/// Sends each batch of grades as one `RegisterGrades` call.
pub struct Forwarder {
    client: GradeServiceClient<Channel>,
    timeout: Duration,
}

impl Forwarder {
    /// The batcher in front of grpc-server, and its task (ends once every handle is dropped
    /// and the calls in flight are answered).
    pub fn start(channel: Channel, timeout: Duration) -> (Batcher<Forwarder>, JoinHandle<()>) {
        let config = BatchConfig {
            max_size: GRADES_PER_CALL,
            max_wait: Duration::ZERO,
            concurrency: CALLS_IN_FLIGHT,
            queue: QUEUE,
        };
        let client = GradeServiceClient::new(channel);
        Batcher::start(config, Forwarder { client, timeout })
    }
}

impl Flush for Forwarder {
    type Item = RegisterGradeRequest;
    type Output = Outcome;
    type Error = StoreError;

    async fn flush(&self, grades: Vec<RegisterGradeRequest>) -> Result<Vec<Outcome>, StoreError> {
        let sent = grades.len();
        let mut request = tonic::Request::new(RegisterGradesRequest { grades });
        request.set_timeout(self.timeout);
        let mut client = self.client.clone();
        let response = Store::GrpcServer
            .within(self.timeout, client.register_grades(request))
            .await?
            .map_err(|s| {
                StoreError::new(
                    Store::GrpcServer,
                    format!("{:?}: {}", s.code(), s.message()),
                )
            })?;
        let outcomes: Option<Vec<Outcome>> = response
            .into_inner()
            .outcomes
            .into_iter()
            .map(|o| o.outcome)
            .collect();
        match outcomes {
            Some(outcomes) if outcomes.len() == sent => Ok(outcomes),
            _ => Err(StoreError::new(
                Store::GrpcServer,
                format!("answered {sent} grades with outcomes that do not match"),
            )),
        }
    }
}
