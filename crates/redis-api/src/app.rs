//! Start-up and shutdown of redis-api: [`Application::build`] connects the stores and wires
//! the writer and the router; [`Application::run_until_stopped`] serves and drains.

use crate::{
    config::Config,
    outbox::Outbox,
    routes::{self, AppState},
    writer::Writer,
};
use axum::Router;
use notas_core::{
    batch::Batcher,
    http::{ready_check, with_contract},
    live::LiveView,
    mysql::grades::GradeStore,
    route::Route,
    shutdown::CancellationToken,
    store::Store,
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, task::JoinHandle};

pub struct Application {
    listener: TcpListener,
    router: Router,
    writer_task: JoinHandle<()>,
    outbox: Arc<Outbox>,
    outbox_interval: Duration,
    store: GradeStore,
}

impl Application {
    /// Connects to MySQL (migrating it) and Redis, starts the batch writer, and binds the
    /// port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::MySql, Store::Redis]);
        let store = GradeStore::connect(&config.mysql, &config.batch).await?;
        let live_view =
            LiveView::connect(&config.redis, config.live_recent_limit, Route::Redis).await?;
        let outbox_interval = Duration::from_millis(config.outbox_interval_ms);
        // A batch's writer applies it within the Redis timeout, and its row is deleted on
        // that replica's next round: past three rounds, a row was missed.
        let grace = 3 * outbox_interval + config.redis.timeout();
        let outbox = Arc::new(Outbox::new(store.clone(), live_view.clone(), grace));
        let writer = Writer::new(store.clone(), live_view.clone(), Arc::clone(&outbox));
        let (submissions, writer_task) = Batcher::start(config.batch.config(), writer);

        let ready = ready_check({
            let store = store.clone();
            move || {
                let (store, live_view) = (store.clone(), live_view.clone());
                async move {
                    store.ping().await?;
                    Ok(live_view.ping().await?)
                }
            }
        });
        let state = AppState {
            submissions,
            answer_within: config.mysql.store_timeout() + config.redis.timeout(),
        };
        let router = with_contract(
            routes::router(state),
            "redis-api",
            Some(Route::Redis),
            &config.http,
            ready,
        );

        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "redis-api listening");
        Ok(Application {
            listener,
            router,
            writer_task,
            outbox,
            outbox_interval,
            store,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves (and replays the outbox, and keeps the store's upkeep: summaries and old
    /// keys) until `shutdown` is cancelled, then stops accepting, answers the requests in
    /// flight, and waits for the last batch to reach MySQL (and Redis, or else the outbox
    /// applies it later).
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let replay = {
            let (outbox, stop) = (Arc::clone(&self.outbox), shutdown.clone());
            tokio::spawn(async move { outbox.run(self.outbox_interval, stop).await })
        };
        let upkeep = {
            let (store, stop) = (self.store, shutdown.clone());
            tokio::spawn(async move { store.upkeep_until(stop).await })
        };
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        // The server dropped the router and with it the last handle to the writer.
        self.writer_task.await?;
        replay.await?;
        upkeep.await?;
        tracing::info!("redis-api stopped");
        Ok(())
    }
}
