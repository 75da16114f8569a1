use clap::Parser;
use grade_consumer::{app::Application, config::Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), notas_core::BoxError> {
    notas_core::telemetry::init();
    let config = Config::parse();
    if config.create_topics {
        // The local stack's and the tests' step before the consumers start (the cluster
        // declares the topics as KafkaTopics instead).
        return Ok(config
            .kafka
            .create_topics(config.kafka_partitions, config.kafka_replication)
            .await?);
    }
    let app = Application::build(config).await?;
    app.run_until_stopped(notas_core::shutdown::on_signal())
        .await?;
    Ok(())
}
