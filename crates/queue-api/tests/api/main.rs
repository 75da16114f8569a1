//! Route 3 end to end: queue-api, a real broker (nisshi) of the test's own, grade-consumers,
//! MySQL and Redis, as a client sees it; in `broker`, through the broker's own failures.

mod accept;
mod broker;
mod helpers;
mod lag;
mod store;
