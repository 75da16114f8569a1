//! The broker settings and the Kafka clients route 3 builds from them (rdkafka, librdkafka
//! bundled). One configuration for every environment: nisshi locally, Strimzi in clusters.

use notas_core::mysql::upkeep::KEY_LIFETIME;
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::StreamConsumer,
    error::KafkaError,
    producer::FutureProducer,
    types::RDKafkaErrorCode,
};
use std::time::Duration;

/// How long the grades topic keeps a record: Kafka's default (`log.retention.hours`, 7
/// days), set explicitly so that the key lifetime can be held to it. It is also how long
/// the consumers may be away before an accepted grade is lost unstored.
pub const GRADES_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest a log segment of the grades topic stays open. Kafka deletes whole segments, once
/// their newest record is older than the retention, so a record may outlive the retention
/// by this much.
pub const GRADES_SEGMENT: Duration = Duration::from_secs(3600);
/// How often Kafka looks for segments to delete (`log.retention.check.interval.ms`, its
/// default, which the clusters keep): a record may outlive its segment's deadline by this.
/// nisshi, locally, sweeps every 10 minutes (nisshi-broker 0.8.1, `src/broker.rs`): the keys'
/// day of margin over [`GRADES_READABLE`] covers that too.
pub const RETENTION_CHECK: Duration = Duration::from_secs(300);
/// Longest a record of the grades topic can be read, so delivered again.
pub const GRADES_READABLE: Duration = GRADES_RETENTION
    .saturating_add(GRADES_SEGMENT)
    .saturating_add(RETENTION_CHECK);

// A record delivered again must find its key: the keys outlive every record of the topic.
const _: () = assert!(GRADES_READABLE.as_secs() <= KEY_LIFETIME.as_secs());

/// The grades topic's settings, as `create_topics` sets them and the clusters' `KafkaTopic`
/// declares them (deploy-checks holds the two together):
/// - `cleanup.policy=delete`: records go by age. Compaction would keep a key's last record
///   for ever, past its key's lifetime in MySQL.
/// - `retention.ms` and `segment.ms`: [`GRADES_RETENTION`] and [`GRADES_SEGMENT`].
/// - `retention.bytes=-1`: no size bound, which could delete a grade before it is stored.
pub fn grades_topic_config() -> [(&'static str, String); 4] {
    [
        ("cleanup.policy", "delete".to_owned()),
        ("retention.ms", GRADES_RETENTION.as_millis().to_string()),
        ("segment.ms", GRADES_SEGMENT.as_millis().to_string()),
        ("retention.bytes", "-1".to_owned()),
    ]
}

/// Broker settings of every route 3 service.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// The topic accepted grades are appended to.
    #[arg(long, env = "KAFKA_TOPIC", default_value = "grades")]
    pub kafka_topic: String,
    /// The topic records that cannot be stored go to, with their reason.
    #[arg(
        long,
        env = "KAFKA_DEAD_LETTER_TOPIC",
        default_value = "grades.dead-letter"
    )]
    pub kafka_dead_letter_topic: String,
    /// Longest an append may take, retries included, before it fails (a 503 on queue-api).
    #[arg(long, env = "KAFKA_TIMEOUT_MS", default_value_t = 3000)]
    pub kafka_timeout_ms: u64,
}

impl KafkaArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_timeout_ms)
    }

    fn client(&self, client_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.kafka_brokers)
            .set("client.id", client_id)
            // librdkafka doubles its wait between reconnections up to this. Its default, 10 s,
            // keeps the clients away that long after the broker is back.
            .set("reconnect.backoff.max.ms", "1000");
        config
    }

    /// A producer whose delivery report means durable: every in-sync replica has the record
    /// (`acks=all`). A record not acknowledged within the timeout fails.
    ///
    /// Idempotent (`enable.idempotence`): the producer numbers its appends and the broker
    /// writes each number once, so an append retried after a lost answer is written once.
    /// The consumer's `Idempotency-Key`s still absorb what a client retries itself
    /// (docs/decisions/0011-idempotent-producer.md).
    ///
    /// # Errors
    /// The settings are invalid.
    pub fn producer(&self, client_id: &str) -> Result<FutureProducer, KafkaError> {
        self.client(client_id)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", self.kafka_timeout_ms.to_string())
            // Under load the records of concurrent requests share a produce request anyway;
            // a short linger adds little latency at low load.
            .set("linger.ms", "2")
            .create()
    }

    /// A member of consumer group `group` that commits offsets only when told to
    /// (`enable.auto.commit=false`), and that starts a partition the group never committed
    /// at its beginning, so nothing appended before the group first joined is skipped. A
    /// member silent for `session_timeout` is dropped and its partitions redelivered.
    ///
    /// # Errors
    /// The settings are invalid.
    pub fn consumer(
        &self,
        client_id: &str,
        group: &str,
        session_timeout: Duration,
    ) -> Result<StreamConsumer, KafkaError> {
        self.client(client_id)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // How long a fetch may wait for records: librdkafka's default, 500 ms, would put
            // a floor of nearly half a second between a 202 and its row at low rates.
            .set("fetch.wait.max.ms", "100")
            .set(
                "session.timeout.ms",
                session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (session_timeout.as_millis() / 3).to_string(),
            )
            .create()
    }

    /// Creates the grades topic with `partitions` partitions and [`grades_topic_config`], and
    /// the dead-letter topic, unless they exist (the cluster declares them as `KafkaTopic`s; `just dev` and the
    /// tests create them here).
    ///
    /// # Errors
    /// The broker did not answer, or refused for another reason than the topic existing.
    pub async fn create_topics(&self, partitions: i32, replication: i32) -> Result<(), KafkaError> {
        let admin: AdminClient<DefaultClientContext> = self.client("notas-topics").create()?;
        let config = grades_topic_config();
        let grades = config.iter().fold(
            NewTopic::new(
                &self.kafka_topic,
                partitions,
                TopicReplication::Fixed(replication),
            ),
            |topic, (name, value)| topic.set(name, value),
        );
        let topics = [
            grades,
            NewTopic::new(
                &self.kafka_dead_letter_topic,
                1,
                TopicReplication::Fixed(replication),
            ),
        ];
        let options = AdminOptions::new().operation_timeout(Some(self.timeout()));
        for result in admin.create_topics(&topics, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaError::AdminOp(code)).inspect_err(|e| {
                        tracing::error!(topic, error = %e, "could not create the topic");
                    });
                }
            }
        }
        Ok(())
    }
}
