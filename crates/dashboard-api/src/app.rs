//! Start-up and shutdown of dashboard-api.

use crate::{
    comparison::{self, Prometheus},
    config::Config,
    edge,
    live::{self, LiveReader},
    reports,
};
use axum::{Router, http::HeaderValue, middleware, routing::get};
use notas_core::{
    http::{ApiError, ready_check, with_contract},
    mysql::connect,
    shutdown::CancellationToken,
    store::{Store, StoreError},
};
use socketioxide::{SocketIo, TransportType};
use sqlx::MySqlPool;
use std::{future::Future, net::SocketAddr, path::Path, time::Duration};
use tokio::net::TcpListener;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
};

/// Connections for report queries.
const POOL_SIZE: u32 = 8;

#[derive(Clone)]
pub struct AppState {
    pub pool: MySqlPool,
    pub live: LiveReader,
    pub prometheus: Prometheus,
    store_timeout: Duration,
}

impl AppState {
    /// Runs a MySQL query within the store timeout; a failure is a 503.
    pub async fn run<T>(
        &self,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, ApiError> {
        Ok(self.query(query).await?)
    }

    async fn query<T>(
        &self,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        Ok(Store::MySql.within(self.store_timeout, query).await??)
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    io: SocketIo,
    live: LiveReader,
    config: Config,
}

impl Application {
    /// Connects to MySQL (migrating it) and Redis, wires the reports, the socket.io
    /// handlers, CORS and the frontend, and binds the port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::MySql, Store::Redis]);
        let pool = connect(&config.mysql, POOL_SIZE).await?;
        let live = LiveReader::connect(&config.redis, config.live_shown).await?;
        let state = AppState {
            pool,
            live: live.clone(),
            prometheus: Prometheus::new(
                &config.prometheus_url,
                Duration::from_millis(config.prometheus_timeout_ms),
                config.store_metrics,
            )?,
            store_timeout: config.mysql.store_timeout(),
        };
        // Websocket only: long-polling would need sticky sessions across replicas.
        let (socket_layer, io) = SocketIo::builder()
            .transports([TransportType::Websocket])
            .build_layer();
        live::serve_sockets(&io, live.clone());

        let ready = {
            let state = state.clone();
            ready_check(move || {
                let state = state.clone();
                async move {
                    state
                        .query(sqlx::query("SELECT 1").execute(&state.pool))
                        .await?;
                    Ok(state.live.ping().await?)
                }
            })
        };
        let mut app = reports::router()
            .route("/api/live", get(live::snapshot))
            .route("/api/hosts", get(live::hosts))
            .route("/api/routes", get(comparison::routes))
            .with_state(state);
        if let Some(dir) = &config.frontend_dir {
            app = app.merge(frontend(dir));
        }
        // Outside the contract's routes: the edge's refusals come for `/`, whatever serves it.
        let mut router = with_contract(app, "dashboard-api", None, &config.http, ready)
            .layer(middleware::from_fn(edge::refusals));
        if let Some(cors) = cors(&config.cors_origins)? {
            router = router.layer(cors);
        }
        let router = router.layer(socket_layer);

        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "dashboard-api listening");
        Ok(Application {
            listener,
            router,
            io,
            live,
            config,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves, and pushes the live view to the sockets, until `shutdown` is cancelled;
    /// then closes the sockets and stops.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let feed = tokio::spawn(live::run_feed(
            self.io.clone(),
            self.live,
            self.config.redis.clone(),
            Duration::from_millis(self.config.push_interval_ms),
            shutdown.clone(),
        ));
        let io = self.io;
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            io.close().await; // websockets would otherwise keep the server waiting
        });
        server.await?;
        feed.await?;
        tracing::info!("dashboard-api stopped");
        Ok(())
    }
}

/// The built single-page app: `index.html` at `/`, its hashed assets, and `config.js`
/// (the API origin, written at deploy time so one bundle serves every environment).
fn frontend(dir: &Path) -> Router {
    Router::new()
        .route_service("/", ServeFile::new(dir.join("index.html")))
        .route_service("/config.js", ServeFile::new(dir.join("config.js")))
        .nest_service("/assets", ServeDir::new(dir.join("assets")))
}

/// CORS for the listed origins (the Cloud Run frontend); none when the list is empty.
fn cors(origins: &[String]) -> Result<Option<CorsLayer>, notas_core::BoxError> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(HeaderValue::from_str)
        .collect::<Result<_, _>>()?;
    Ok((!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET])
    }))
}
