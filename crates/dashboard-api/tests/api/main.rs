//! dashboard-api over real HTTP, with real MariaDB and Redis.

mod helpers;
mod live;
mod observed;
mod reports;
