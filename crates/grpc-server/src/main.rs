use clap::Parser;
use grpc_server::{app::Application, config::Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), notas_core::BoxError> {
    notas_core::telemetry::init();
    let config = Config::parse();
    if config.migrate_only {
        notas_core::mysql::connect_and_migrate(&config.mysql, 1).await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let app = Application::build(config).await?;
    app.run_until_stopped(notas_core::shutdown::on_signal())
        .await?;
    Ok(())
}
