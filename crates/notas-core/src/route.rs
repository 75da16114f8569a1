//! The three ingestion routes. The name is sent in every response's `x-notas-route` header
//! and stored with every record, so a load test can attribute requests and rows.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Route 1: grpc-client → grpc-server → MySQL.
    Grpc,
    /// Route 2: redis-api → MySQL + Redis.
    Redis,
    /// Route 3: queue-api → Kafka → grade-consumer → MySQL + Redis.
    Queue,
}

impl Route {
    /// Every route, in their order (1, 2, 3).
    pub const ALL: [Route; 3] = [Route::Grpc, Route::Redis, Route::Queue];

    /// The routes whose records the Redis live view holds ([`crate::live`]).
    pub const IN_LIVE_VIEW: [Route; 2] = [Route::Redis, Route::Queue];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Grpc => "grpc",
            Route::Redis => "redis",
            Route::Queue => "queue",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
