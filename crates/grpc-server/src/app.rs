//! Start-up and shutdown of grpc-server: [`Application::build`] connects MySQL and wires
//! the writer, the gRPC service and the admin router; [`Application::run_until_stopped`]
//! serves both ports and drains.

use crate::{config::Config, service::GradeRpc};
use axum::Router;
use notas_core::{
    batch::Batcher,
    http::{ready_check, with_contract},
    mysql::grades::{GradeStore, RouteWriter},
    route::Route,
    shutdown::CancellationToken,
    store::Store,
};
use notas_proto::v1::grade_service_server::GradeServiceServer;
use std::{net::SocketAddr, time::Duration};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::server::HealthReporter;

/// How often the gRPC health status follows MySQL's reachability.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Calls grpc-client cancels (its HTTP client gave up) before this server has taken them
/// up, tolerated at once before the whole connection is closed. h2's default of 20 guards
/// against rapid-reset floods from untrusted peers; here the only peer is grpc-client
/// (NetworkPolicy), and under load a few impatient clients crossed 20, so one GOAWAY failed
/// every other grade in flight on the shared connection with a 503.
const MAX_PENDING_RESETS: usize = 4096;

pub struct Application {
    grpc: TcpListener,
    admin: TcpListener,
    rpc: GradeRpc,
    writer_task: JoinHandle<()>,
    admin_router: Router,
    store: GradeStore,
}

impl Application {
    /// Connects to MySQL (migrating it), starts the batch writer, and binds both ports;
    /// port 0 picks a free one.
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::MySql]);
        let store = GradeStore::connect(&config.mysql, &config.batch).await?;
        let writer = RouteWriter::new(store.clone(), Route::Grpc);
        let (submissions, writer_task) = Batcher::start(config.batch.config(), writer);
        let rpc = GradeRpc {
            submissions,
            store_timeout: config.mysql.store_timeout(),
        };
        let ready = {
            let store = store.clone();
            ready_check(move || {
                let store = store.clone();
                async move { Ok(store.ping().await?) }
            })
        };
        let admin_router = with_contract(Router::new(), "grpc-server", None, &config.http, ready);

        let grpc = TcpListener::bind(config.listen_addr).await?;
        let admin = TcpListener::bind(config.admin_addr).await?;
        tracing::info!(grpc = %grpc.local_addr()?, admin = %admin.local_addr()?, "grpc-server listening");
        Ok(Application {
            grpc,
            admin,
            rpc,
            writer_task,
            admin_router,
            store,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc.local_addr().expect("bound")
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr().expect("bound")
    }

    /// Serves (and keeps the store's upkeep: summaries and old keys) until `shutdown` is
    /// cancelled, then stops accepting, answers the calls in flight, and waits for the last
    /// batch to be committed.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health_task = follow_mysql(reporter, self.store.clone(), shutdown.clone()).await;
        let upkeep = {
            let (store, stop) = (self.store, shutdown.clone());
            tokio::spawn(async move { store.upkeep_until(stop).await })
        };
        let grpc_server = Server::builder()
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
            .add_service(health_service)
            .add_service(GradeServiceServer::new(self.rpc))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(self.grpc).with_nodelay(Some(true)),
                shutdown.clone().cancelled_owned(),
            );
        let admin_server = axum::serve(self.admin, self.admin_router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());

        let (grpc_result, admin_result) = tokio::join!(grpc_server, admin_server);
        // The gRPC server has dropped the service and with it the writer's last handle.
        self.writer_task.await?;
        health_task.await?;
        upkeep.await?;
        grpc_result?;
        admin_result?;
        tracing::info!("grpc-server stopped");
        Ok(())
    }
}

/// Keeps the gRPC health status of `notas.v1.GradeService` in step with MySQL, so
/// grpc-client's readiness (and a `grpc:` probe) sees a server that cannot store.
/// The first status is set before returning, so the service is never reported unknown.
async fn follow_mysql(
    reporter: HealthReporter,
    store: GradeStore,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    type Svc = GradeServiceServer<GradeRpc>;
    async fn update(reporter: &HealthReporter, store: &GradeStore) {
        match store.ping().await {
            Ok(()) => reporter.set_serving::<Svc>().await,
            Err(_) => reporter.set_not_serving::<Svc>().await,
        }
    }
    update(&reporter, &store).await;
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + HEALTH_INTERVAL;
        let mut tick = tokio::time::interval_at(start, HEALTH_INTERVAL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => update(&reporter, &store).await,
            }
        }
        reporter.set_not_serving::<Svc>().await;
    })
}
