//! Structured logs with `tracing`. `RUST_LOG` selects what is logged (default `info`);
//! `LOG_FORMAT=json` gives one JSON object per line, for log collectors in a cluster.

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Calling it again (as tests do) is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        fmt().json().with_env_filter(filter).try_init()
    } else {
        let ansi = std::io::stdout().is_terminal();
        fmt().with_ansi(ansi).with_env_filter(filter).try_init()
    };
    drop(result);
}
