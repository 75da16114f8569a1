//! Client-side balancing over every grpc-server replica.
//!
//! One HTTP/2 connection carries all of a client's calls, so behind a ClusterIP Service
//! every call would go to whichever pod the connection landed on, and replicas added by the
//! HPA would sit idle. Instead grpc-server is exposed through a headless Service, whose DNS
//! name resolves to every ready pod; this module resolves it periodically and keeps one
//! endpoint per address in tonic's balanced channel (power of two choices), adding pods as
//! they appear and dropping them as they go.
//!
//! Between resolutions every address is probed with a TCP connect: one that refuses (a
//! replica stopping or restarting) leaves the balancer until it accepts again, as
//! Kubernetes takes a pod that is not ready out of its Service. Without this the balancer
//! keeps choosing a replica whose calls fail at once, and even prefers it, as the least busy.

use std::{collections::HashSet, future::Future, net::SocketAddr, time::Duration};
use tokio::{net::TcpStream, task::JoinSet, time::Instant};
use tonic::transport::{Channel, Endpoint, Uri, channel::Change};

/// How often the known addresses are probed.
const PROBE_EVERY: Duration = Duration::from_millis(250);

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

/// A channel balanced over the addresses `resolve` returns, asked every `resolve_every`,
/// that accept connections (probed every [`PROBE_EVERY`]). A failed resolution keeps the
/// addresses already known.
pub fn discover<R, Fut>(resolve: R, resolve_every: Duration, connect_timeout: Duration) -> Channel
where
    R: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<HashSet<SocketAddr>>> + Send,
{
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    tokio::spawn(async move {
        let (mut addresses, mut balanced) = (HashSet::new(), HashSet::new());
        let mut resolved_at: Option<Instant> = None;
        let mut tick = tokio::time::interval(PROBE_EVERY.min(resolve_every));
        loop {
            tick.tick().await;
            if resolved_at.is_none_or(|at| at.elapsed() >= resolve_every) {
                resolved_at = Some(Instant::now());
                match resolve().await {
                    Ok(found) => addresses = found,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot resolve grpc-server; keeping known addresses");
                    }
                }
            }
            let reachable = accepting(&addresses, connect_timeout).await;
            for addr in reachable.difference(&balanced) {
                let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                    .expect("a socket address is a valid URI")
                    .connect_timeout(connect_timeout)
                    .tcp_nodelay(true);
                tracing::info!(%addr, "grpc-server endpoint added");
                if changes.send(Change::Insert(*addr, endpoint)).await.is_err() {
                    return; // the channel was dropped: the service is stopping
                }
            }
            for addr in balanced.difference(&reachable) {
                tracing::info!(%addr, "grpc-server endpoint removed");
                if changes.send(Change::Remove(*addr)).await.is_err() {
                    return;
                }
            }
            balanced = reachable;
        }
    });
    channel
}

/// The addresses that accept a TCP connection within `timeout`.
async fn accepting(addresses: &HashSet<SocketAddr>, timeout: Duration) -> HashSet<SocketAddr> {
    let mut probes = JoinSet::new();
    for &addr in addresses {
        probes.spawn(async move {
            let connected = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
            matches!(connected, Ok(Ok(_))).then_some(addr)
        });
    }
    probes.join_all().await.into_iter().flatten().collect()
}
