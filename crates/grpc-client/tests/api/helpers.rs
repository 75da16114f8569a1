//! `spawn_app`: a grpc-server and a grpc-client in front of it, on random ports, with their
//! own database; grpc-server reaches MySQL through a proxy the tests can cut.

use crate::server::start_grpc_server;
use grpc_client::{app::Application, config::Config};
use notas_core::route::Route;
use notas_testkit::{ANY_PORT, GrpcServer, Stores, contract::IngestApp, defaults, spawn_service};
use std::{ops::Deref, time::Duration};

pub const BODY_LIMIT: usize = 4096;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(6);

pub struct TestApp {
    pub server: GrpcServer,
    pub ingest: IngestApp,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with `writer` applied to the configuration of the MySQL writer
/// (grpc-server).
pub async fn spawn_app_with(writer: impl FnOnce(&mut grpc_server::config::Config)) -> TestApp {
    let stores = Stores::mysql().await;
    let server = start_grpc_server(stores.proxied_mysql_url(), writer).await;

    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.grpc_server_url = server.grpc_url();
    config.grpc_timeout_ms = 4000;
    config.http.request_timeout_ms = REQUEST_TIMEOUT.as_millis() as u64;
    config.http.body_limit_bytes = BODY_LIMIT;
    let app = Application::build(config)
        .await
        .expect("grpc-client starts");
    let service = spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown));

    TestApp {
        server,
        ingest: IngestApp {
            service,
            stores,
            route: Route::Grpc,
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
        },
    }
}

impl Deref for TestApp {
    type Target = IngestApp;
    fn deref(&self) -> &IngestApp {
        &self.ingest
    }
}
