//! Start-up and shutdown of grpc-client: [`Application::build`] wires the balanced gRPC
//! channel, the forwarder and the router; [`Application::run_until_stopped`] serves and
//! drains.

use crate::{
    balance::balanced_channel,
    config::Config,
    forward::Forwarder,
    routes::{self, AppState},
};
use axum::Router;
use notas_core::{
    http::{ready_check, with_contract},
    route::Route,
    shutdown::CancellationToken,
    store::{Store, StoreError},
};
use std::{net::SocketAddr, time::Duration};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The gRPC service whose health `/readyz` asks grpc-server about.
const GRADE_SERVICE: &str = "notas.v1.GradeService";

pub struct Application {
    listener: TcpListener,
    router: Router,
    forwarder_task: JoinHandle<()>,
}

impl Application {
    /// Binds the port (0 picks a free one) and prepares the balanced gRPC channel; it
    /// connects lazily, so grpc-client starts even before grpc-server is up.
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::GrpcServer]);
        let timeout = Duration::from_millis(config.grpc_timeout_ms);
        let channel = balanced_channel(
            &config.grpc_server_url,
            Duration::from_millis(config.grpc_resolve_interval_ms),
            timeout,
        )?;
        let (grades, forwarder_task) = Forwarder::start(channel.clone(), timeout);
        let state = AppState { grades, timeout };

        let ready = ready_check(move || {
            let mut health = HealthClient::new(channel.clone());
            async move {
                let request = HealthCheckRequest {
                    service: GRADE_SERVICE.to_owned(),
                };
                let not_ready = |why: &str| StoreError::new(Store::GrpcServer, why);
                let status = tokio::time::timeout(timeout, health.check(request))
                    .await
                    .map_err(|_| not_ready("did not answer"))?
                    .map_err(|e| not_ready(e.message()))?
                    .into_inner()
                    .status();
                match status {
                    ServingStatus::Serving => Ok(()),
                    other => Err(not_ready(other.as_str_name()).into()),
                }
            }
        });
        let router = with_contract(
            routes::router(state),
            "grpc-client",
            Some(Route::Grpc),
            &config.http,
            ready,
        );

        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, upstream = %config.grpc_server_url, "grpc-client listening");
        Ok(Application {
            listener,
            router,
            forwarder_task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and answers the requests
    /// in flight (the router's end drops the forwarder's last handle: its task ends once
    /// the calls in flight are answered).
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        self.forwarder_task.await?;
        tracing::info!("grpc-client stopped");
        Ok(())
    }
}
