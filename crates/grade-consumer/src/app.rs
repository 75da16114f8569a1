//! Start-up and shutdown of grade-consumer: [`Application::build`] connects MySQL and Redis,
//! joins the consumer group and wires the health endpoints;
//! [`Application::run_until_stopped`] consumes (and keeps the store's upkeep) until the
//! signal, then finishes its batch and leaves the group.

use crate::{
    config::Config,
    consumer::GradeConsumer,
    lag::{InHand, Lag},
};
use axum::Router;
use notas_core::{
    http::{ready_check, with_contract},
    live::LiveView,
    mysql::grades::GradeStore,
    route::Route,
    shutdown::CancellationToken,
    store::Store,
};
use rdkafka::consumer::Consumer;
use std::{net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: Router,
    consumer: GradeConsumer,
    lag: Lag,
    group: String,
}

impl Application {
    /// Connects the stores, subscribes to the topic (the group assigns partitions once the
    /// loop polls), and binds the health port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::MySql, Store::Redis, Store::Broker]);
        count_from_zero();
        let store = GradeStore::connect(&config.mysql, &config.batch).await?;
        let live_view =
            LiveView::connect(&config.redis, config.live_recent_limit, Route::Queue).await?;
        let kafka = &config.kafka;
        let consumer = kafka.consumer(
            "grade-consumer",
            &config.kafka_group,
            config.session_timeout(),
        )?;
        consumer.subscribe(&[&kafka.kafka_topic])?;

        let ready = ready_check({
            let (store, live_view) = (store.clone(), live_view.clone());
            move || {
                let (store, live_view) = (store.clone(), live_view.clone());
                async move {
                    store.ping().await?;
                    Ok(live_view.ping().await?)
                }
            }
        });
        let router = with_contract(
            Router::new(),
            "grade-consumer",
            Some(Route::Queue),
            &config.http,
            ready,
        );
        let in_hand = InHand::default();
        let lag = Lag::new(
            kafka.consumer(
                "grade-consumer-lag",
                &config.kafka_group,
                config.session_timeout(),
            )?,
            &config.kafka_group,
            &kafka.kafka_topic,
            kafka.timeout(),
            in_hand.clone(),
        );
        let consumer = GradeConsumer {
            consumer: Arc::new(consumer),
            store,
            live_view,
            dead_letters: kafka.producer("grade-consumer")?,
            dead_letter_topic: kafka.kafka_dead_letter_topic.clone(),
            max_batch: config.batch.batch_max_size as usize,
            max_wait: config.batch.config().max_wait,
            kafka_timeout: kafka.timeout(),
            in_hand,
        };
        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, group = %config.kafka_group, "grade-consumer listening");
        Ok(Application {
            listener,
            router,
            consumer,
            lag,
            group: config.kafka_group.clone(),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Consumes, keeps the upkeep (report summaries, old keys) and the lag gauges, and serves
    /// the health endpoints until `shutdown` is cancelled; then finishes the batch in hand.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let upkeep = {
            let (store, stop) = (self.consumer.store.clone(), shutdown.clone());
            tokio::spawn(async move { store.upkeep_until(stop).await })
        };
        let lag = tokio::spawn(self.lag.run(shutdown.clone()));
        let assignment = tokio::spawn(crate::assignment::report(
            self.consumer.consumer.clone(),
            self.group,
            shutdown.clone(),
        ));
        let consuming = tokio::spawn(self.consumer.run(shutdown.clone()));
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        consuming.await?;
        upkeep.await?;
        lag.await?;
        assignment.await?;
        tracing::info!("grade-consumer stopped");
        Ok(())
    }
}

/// Route 3's counters start at 0, so that their rates are 0 rather than missing before the
/// first grade (or the first dead letter, which may never come); their `# HELP`s.
fn count_from_zero() {
    notas_core::metrics::handle();
    crate::consumer::describe_metrics();
    crate::assignment::describe_metrics();
    metrics::counter!("notas_queue_stored_total").increment(0);
    metrics::counter!("notas_queue_dead_letters_total").increment(0);
}
