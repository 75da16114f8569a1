//! Start-up and shutdown of the monitor: [`Application::build`] names the host, takes the
//! first reading, connects Redis and binds the port; [`Application::run_until_stopped`]
//! samples and serves until the shutdown signal.

use crate::{config::Config, proc_stats::hostname, publish::Publisher, sampler::Sampler};
use axum::Router;
use notas_core::{
    http::{NotReady, ready_check, with_contract},
    live,
    shutdown::CancellationToken,
    store::Store,
};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    router: Router,
    sampler: Sampler,
    interval: Duration,
}

impl Application {
    /// Names the host, reads `PROC_ROOT` once (a wrong root fails here, not every second),
    /// connects to Redis and binds the port (0 picks a free one).
    pub async fn build(config: Config) -> Result<Application, notas_core::BoxError> {
        // Also installs the recorder, which the gauges need from the first sample.
        Store::count_errors_from_zero(&[Store::Redis]);
        let host = match config.node_name {
            Some(name) => name,
            None => hostname(&config.proc_root).map_err(|e| {
                format!(
                    "cannot read the host name under {} ({e}); set NODE_NAME",
                    config.proc_root.display()
                )
            })?,
        };
        let redis = live::connect(&config.redis).await?;
        let sampled = Arc::new(AtomicBool::new(false));
        let publisher = Publisher::new(redis.clone(), config.redis.keys(), host.clone());
        let sampler = Sampler::start(
            config.proc_root,
            &config.processes,
            publisher,
            Arc::clone(&sampled),
        )
        .await?;

        // Ready once a sample has been taken and Redis answers.
        let ready = ready_check(move || {
            let (sampled, redis) = (Arc::clone(&sampled), redis.clone());
            async move {
                if !sampled.load(Ordering::Acquire) {
                    return Err(NotReady::new("no sample taken yet"));
                }
                Ok(live::ping(&redis).await?)
            }
        });
        let router = with_contract(Router::new(), "monitor", None, &config.http, ready);

        let listener = TcpListener::bind(config.listen_addr).await?;
        tracing::info!(addr = %listener.local_addr()?, %host, "monitor listening");
        Ok(Application {
            listener,
            router,
            sampler,
            interval: Duration::from_millis(config.monitor_interval_ms),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// Samples and serves until `shutdown` is cancelled; a round under way is finished.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<(), notas_core::BoxError> {
        let sampling = tokio::spawn(self.sampler.run(self.interval, shutdown.clone()));
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        sampling.await?;
        tracing::info!("monitor stopped");
        Ok(())
    }
}
