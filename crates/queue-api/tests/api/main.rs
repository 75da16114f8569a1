//! Route 3 end to end: queue-api, a real broker (nisshi) of the test's own, grade-consumers,
//! MySQL and Redis, as a client sees it.

mod accept;
mod helpers;
mod lag;
mod store;
