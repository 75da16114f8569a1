//! `spawn_server`: grpc-server on random ports with its own database, reaching MySQL
//! through a proxy the tests can cut.

use crate::server::start_grpc_server;
use notas_proto::v1::{Grade, RegisterGradeRequest, grade_service_client::GradeServiceClient};
use notas_testkit::{GrpcServer, Stores};
use tonic::transport::Channel;

pub struct TestServer {
    pub grpc: GrpcServer,
    pub stores: Stores,
}

pub async fn spawn_server() -> TestServer {
    let stores = Stores::mysql().await;
    TestServer {
        grpc: start_grpc_server(stores.proxied_mysql_url(), |_| {}).await,
        stores,
    }
}

impl TestServer {
    pub async fn client(&self) -> GradeServiceClient<Channel> {
        GradeServiceClient::connect(self.grpc.grpc_url())
            .await
            .expect("connect to grpc-server")
    }

    /// One `RegisterGrade` call on a new connection; the stored id.
    pub async fn register(&self, grade: Grade) -> Result<u64, tonic::Status> {
        let request = RegisterGradeRequest {
            grade: Some(grade),
            ..Default::default()
        };
        Ok(self
            .client()
            .await
            .register_grade(request)
            .await?
            .into_inner()
            .id)
    }
}
