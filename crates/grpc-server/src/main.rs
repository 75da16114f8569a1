use clap::Parser;
use grpc_server::{app::Application, config::Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), notas_core::BoxError> {
    notas_core::telemetry::init();
    let config = Config::parse();
    if config.migrate_only {
        let app_url = config.app_mysql_url.as_ref().map(|url| url.expose());
        notas_core::mysql::migrate::migrate(&config.mysql, app_url).await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let app = Application::build(config).await?;
    app.run_until_stopped(notas_core::shutdown::on_signal())
        .await?;
    Ok(())
}
