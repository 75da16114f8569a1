//! The two ingestion routes. The name is sent in every response's `x-notas-route` header
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
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Grpc => "grpc",
            Route::Redis => "redis",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
