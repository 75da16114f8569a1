//! One shutdown signal for the whole process.
//!
//! SIGTERM (Kubernetes) or Ctrl-C cancels a [`CancellationToken`]; the HTTP and gRPC
//! servers stop accepting and finish their in-flight requests, and the batch writers
//! drain once the servers, their last users, have dropped them.

use std::{future::Future, time::Duration};
pub use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
        tracing::info!("shutdown signal received: draining");
        cancel.cancel();
    });
    token
}

/// Runs `work` every `period` (the first time at once) until `shutdown` is cancelled; a
/// round under way is finished, not cut.
pub async fn every<F, Fut>(period: Duration, shutdown: &CancellationToken, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        work().await;
    }
}
