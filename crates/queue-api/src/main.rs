use clap::Parser;
use queue_api::{app::Application, config::Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), notas_core::BoxError> {
    notas_core::telemetry::init();
    let config = Config::parse();
    let app = Application::build(config).await?;
    app.run_until_stopped(notas_core::shutdown::on_signal())
        .await?;
    Ok(())
}
