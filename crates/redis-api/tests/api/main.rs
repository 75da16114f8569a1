//! redis-api over real HTTP, with real MariaDB and Redis (see `notas_testkit`).

mod helpers;
mod live_view;

use helpers::{spawn_app, spawn_app_with};

notas_testkit::ingest_contract_tests!();
