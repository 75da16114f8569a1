//! dashboard-api over real HTTP, with real MariaDB and Redis.

mod edge;
mod helpers;
mod live;
mod observed;
mod reports;
