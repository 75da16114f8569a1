//! What a store failure is, wherever it happens: MySQL, Redis or the Kafka broker failing or
//! not answering in time, or grpc-server not storing a grade. Every failure becomes a [`StoreError`] through
//! [`StoreError::new`], which is the one place `notas_store_errors_total` is counted; a wait
//! that runs out does through [`Store::within`], which names the store that did not answer.

use std::{fmt, future::Future, sync::Arc, time::Duration};

/// How long a starting service waits for a store to accept connections.
pub const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// The store that failed: the `store` label of `notas_store_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    MySql,
    Redis,
    /// grpc-server, as grpc-client sees it.
    GrpcServer,
    /// The Kafka broker route 3 appends to.
    Broker,
}

impl Store {
    /// Shows this store's `notas_store_errors_total` as 0 before its first failure, so that
    /// dashboards and alerts see a series (a rate of 0) rather than none. Each service calls
    /// it at start-up for the stores it uses.
    pub fn count_errors_from_zero(stores: &[Store]) {
        crate::metrics::handle(); // the recorder must exist before the counters
        for store in stores {
            metrics::counter!("notas_store_errors_total", "store" => store.as_str()).increment(0);
        }
    }

    /// Waits at most `limit` for `work`, which asks this store; past it, this store did not
    /// answer in time: a [`StoreError`] of this store. A timeout has no store of its own (a
    /// `From` conversion would have to guess one), so every store timeout is taken here.
    pub async fn within<F: Future>(
        self,
        limit: Duration,
        work: F,
    ) -> Result<F::Output, StoreError> {
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| StoreError::new(self, "timed out"))
    }

    /// Runs `connect` until this store accepts connections, for at most [`STARTUP_WAIT`]: in
    /// a cluster or a local stack the store may be starting at the same time as the service.
    /// `unreachable` tells a refused or dropped connection (worth waiting out) from any
    /// other answer, which is returned at once.
    pub async fn wait_for_startup<T, E, F, Fut>(
        self,
        mut connect: F,
        unreachable: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        E: fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
        loop {
            match connect().await {
                Err(e) if unreachable(&e) && tokio::time::Instant::now() < deadline => {
                    tracing::info!(error = %e, "waiting for {self} to be ready");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                answer => return answer,
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Store::MySql => "mysql",
            Store::Redis => "redis",
            Store::GrpcServer => "grpc",
            Store::Broker => "broker",
        }
    }
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A store could not store or read in time. Cloneable so one failed batch can answer every
/// request in it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{store} unavailable: {reason}")]
pub struct StoreError {
    pub store: Store,
    reason: Arc<str>,
}

impl StoreError {
    /// Counts the failure, once, as it happens.
    pub fn new(store: Store, reason: impl fmt::Display) -> Self {
        metrics::counter!("notas_store_errors_total", "store" => store.as_str()).increment(1);
        StoreError {
            store,
            reason: reason.to_string().into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::new(Store::MySql, e)
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::new(Store::Redis, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `notas_store_errors_total` of `store` in this process.
    fn errors(store: Store) -> u64 {
        let series = format!("notas_store_errors_total{{store=\"{store}\"}} ");
        let text = crate::metrics::render();
        let count = text.lines().find_map(|line| line.strip_prefix(&series));
        count.expect("counted from zero").parse().unwrap()
    }

    #[tokio::test]
    async fn a_timeout_is_counted_once_for_the_store_that_did_not_answer() {
        Store::count_errors_from_zero(&[Store::MySql, Store::Redis]);
        let (mysql, redis) = (errors(Store::MySql), errors(Store::Redis));
        let hung = std::future::pending::<()>();
        let e = Store::Redis
            .within(Duration::from_millis(1), hung)
            .await
            .unwrap_err();
        assert_eq!(e.store, Store::Redis);
        assert_eq!(
            (errors(Store::MySql), errors(Store::Redis)),
            (mysql, redis + 1)
        );
    }
}
