//! Start-up and shutdown of redis-api.

use crate::{config::Config, live::LiveView, outbox::Outbox, routes};
use axum::{Router, routing::post};
use notas_core::{
    batch::Batcher,
    grade::{Grade, StoredGrade},
    http::{ready_check, with_contract},
    mysql::{GradeStore, StoreError},
    route::Route,
    shutdown::CancellationToken,
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;

/// The route 2 writer: a batch goes to MySQL, then to Redis.
pub type LiveWriter = Batcher<Grade, StoredGrade, StoreError>;

#[derive(Clone)]
pub struct AppState {
    pub writer: LiveWriter,
    /// Longest a request waits for its batch (MySQL plus Redis).
    pub answer_within: Duration,
}

pub struct Application {
    listener: TcpListener,
    store: GradeStore,
    live: LiveView,
    config: Config,
}

impl Application {
    /// Connects to MySQL (migrating it) and Redis, and binds the port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        let store = GradeStore::connect(&config.mysql, &config.batch).await?;
        let live = LiveView::connect(&config.redis, config.live_recent_limit).await?;
        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "redis-api listening");
        Ok(Application {
            listener,
            store,
            live,
            config,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, answers the requests in
    /// flight, and waits for the last batch to reach MySQL (and Redis, or the outbox).
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let Application {
            listener,
            store,
            live,
            config,
        } = self;
        let outbox = Arc::new(Outbox::new(store.clone(), live.clone()));
        let (writer, writer_task) = {
            let (store, live, outbox) = (store.clone(), live.clone(), Arc::clone(&outbox));
            Batcher::spawn(config.batch.config(), move |grades: Vec<Grade>| {
                let (store, live, outbox) = (store.clone(), live.clone(), Arc::clone(&outbox));
                async move { store_then_publish(&store, &live, &outbox, grades).await }
            })
        };
        let replay = {
            let (outbox, stop) = (Arc::clone(&outbox), shutdown.clone());
            let every = Duration::from_millis(config.outbox_interval_ms);
            tokio::spawn(async move { outbox.run(every, stop).await })
        };

        let answer_within = config.mysql.store_timeout() + config.redis.timeout();
        let ready = ready_check(move || {
            let (store, live) = (store.clone(), live.clone());
            async move {
                store.ping().await.map_err(|e| e.to_string())?;
                live.ping().await.map_err(|e| format!("redis: {e}"))
            }
        });
        let app = Router::new()
            .route("/notas", post(routes::register))
            .with_state(AppState {
                writer,
                answer_within,
            });
        let router = with_contract(app, "redis-api", Some(Route::Redis), &config.http, ready);

        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        writer_task.await?;
        replay.await?;
        tracing::info!("redis-api stopped");
        Ok(())
    }
}

/// Commits the batch to MySQL (the `201` promise), then updates the live view; a Redis
/// failure defers the update to the outbox instead of failing the requests.
async fn store_then_publish(
    store: &GradeStore,
    live: &LiveView,
    outbox: &Outbox,
    grades: Vec<Grade>,
) -> Result<Vec<StoredGrade>, StoreError> {
    let ids = store.insert(Route::Redis, &grades).await?;
    let stored: Vec<StoredGrade> = ids
        .into_iter()
        .zip(grades)
        .map(|(id, grade)| StoredGrade { id, grade })
        .collect();
    if let Err(e) = live.record(&stored).await {
        metrics::counter!("notas_store_errors_total", "store" => "redis").increment(1);
        tracing::warn!(error = %e, count = stored.len(), "live view update failed; deferred to the outbox");
        let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
        outbox.defer(&ids).await;
    }
    Ok(stored)
}
