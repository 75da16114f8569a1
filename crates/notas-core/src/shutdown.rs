//! One shutdown signal for the whole process.
//!
//! SIGTERM (Kubernetes) or Ctrl-C cancels a [`CancellationToken`]; the HTTP and gRPC
//! servers stop accepting and finish their in-flight requests, and the batch writers
//! drain once the servers, their last users, have dropped them.

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
