//! Start-up and shutdown of queue-api: [`Application::build`] makes the producer, opens
//! MySQL for the status endpoint and wires the router; [`Application::run_until_stopped`]
//! serves and drains.

use crate::{
    config::Config,
    routes::{self, AppState},
};
use axum::Router;
use notas_core::{
    http::{NotReady, ready_check, with_contract},
    route::Route,
    shutdown::CancellationToken,
    store::{Store, StoreError},
};
use notas_queue::kafka::KafkaArgs;
use rdkafka::producer::{FutureProducer, Producer};
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Makes the producer (it connects by itself, so queue-api starts before the broker is
    /// up), opens MySQL, and binds the port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        Store::count_errors_from_zero(&[Store::Broker, Store::MySql]);
        let producer = config.kafka.producer("queue-api")?;
        // Two connections: the status endpoint's reads are single-row lookups.
        let mysql = notas_core::mysql::connect(&config.mysql, 2).await?;
        let ready = ready_check({
            let (producer, kafka) = (producer.clone(), config.kafka.clone());
            // Ready when the broker answers for the topic: accepting needs nothing else.
            move || {
                let (producer, kafka) = (producer.clone(), kafka.clone());
                async move { topic_answers(producer, kafka).await }
            }
        });
        let state = AppState {
            producer,
            topic: config.kafka.kafka_topic.as_str().into(),
            kafka_timeout: config.kafka.timeout(),
            mysql,
            store_timeout: config.mysql.store_timeout(),
        };
        let router = with_contract(
            routes::router(state),
            "queue-api",
            Some(Route::Queue),
            &config.http,
            ready,
        );
        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, brokers = %config.kafka.kafka_brokers, "queue-api listening");
        Ok(Application { listener, router })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and answers the requests
    /// in flight (each waits for its own acknowledgement, so nothing is left to flush).
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        tracing::info!("queue-api stopped");
        Ok(())
    }
}

/// Whether the broker answers a metadata request for the topic, with its partitions.
async fn topic_answers(producer: FutureProducer, kafka: KafkaArgs) -> Result<(), NotReady> {
    let asked = tokio::task::spawn_blocking(move || {
        let metadata = producer
            .client()
            .fetch_metadata(Some(&kafka.kafka_topic), kafka.timeout())?;
        Ok::<_, rdkafka::error::KafkaError>(
            metadata
                .topics()
                .iter()
                .any(|t| t.error().is_none() && !t.partitions().is_empty()),
        )
    })
    .await
    .expect("the metadata request does not panic");
    match asked {
        Ok(true) => Ok(()),
        Ok(false) => Err(NotReady::new("the grades topic does not exist yet")),
        Err(e) => Err(StoreError::new(Store::Broker, e).into()),
    }
}
