//! Client-side balancing over every grpc-server replica.
//!
//! One HTTP/2 connection carries all of a client's calls, so behind a ClusterIP Service
//! every call would go to whichever pod the connection landed on, and replicas added by the
//! HPA would sit idle. Instead grpc-server is exposed through a headless Service, whose DNS
//! name resolves to every ready pod; this module resolves it periodically and keeps one
//! endpoint per address in tonic's balanced channel (power of two choices), adding pods as
//! they appear and dropping them as they go.

use std::{collections::HashSet, future::Future, net::SocketAddr, time::Duration};
use tonic::transport::{Channel, Endpoint, Uri, channel::Change};

/// A channel balanced over every address the hosts of `urls` resolve to: one URL, or
/// several separated by commas (the local stack's replicas, each on its own port).
///
/// # Errors
/// An entry is not an `http://host:port` URL.
pub fn balanced_channel(
    urls: &str,
    resolve_every: Duration,
    connect_timeout: Duration,
) -> Result<Channel, String> {
    let mut targets = Vec::new();
    for url in urls.split(',').map(str::trim) {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("GRPC_SERVER_URL {url:?}: {e}"))?;
        let host = uri
            .host()
            .ok_or_else(|| format!("GRPC_SERVER_URL {url:?} has no host"))?
            .to_owned();
        targets.push((host, uri.port_u16().unwrap_or(80)));
    }
    let resolve = move || {
        let targets = targets.clone();
        async move {
            let mut found = HashSet::new();
            for (host, port) in &targets {
                found.extend(tokio::net::lookup_host((host.as_str(), *port)).await?);
            }
            Ok(found)
        }
    };
    Ok(discover(resolve, resolve_every, connect_timeout))
}

/// A channel balanced over the addresses `resolve` returns, asked every `resolve_every`.
/// A failed resolution keeps the endpoints already known.
pub fn discover<R, Fut>(resolve: R, resolve_every: Duration, connect_timeout: Duration) -> Channel
where
    R: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<HashSet<SocketAddr>>> + Send,
{
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    tokio::spawn(async move {
        let mut known = HashSet::new();
        let mut tick = tokio::time::interval(resolve_every);
        loop {
            tick.tick().await;
            let found = match resolve().await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot resolve grpc-server; keeping known endpoints");
                    continue;
                }
            };
            for addr in found.difference(&known) {
                let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                    .expect("a socket address is a valid URI")
                    .connect_timeout(connect_timeout)
                    .tcp_nodelay(true);
                tracing::info!(%addr, "grpc-server endpoint added");
                if changes.send(Change::Insert(*addr, endpoint)).await.is_err() {
                    return; // the channel was dropped: the service is stopping
                }
            }
            for addr in known.difference(&found) {
                tracing::info!(%addr, "grpc-server endpoint removed");
                if changes.send(Change::Remove(*addr)).await.is_err() {
                    return;
                }
            }
            known = found;
        }
    });
    channel
}
