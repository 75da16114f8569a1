//! Route 3's wire to the broker, shared by queue-api (which appends) and grade-consumer
//! (which stores), as `notas-proto` is route 1's.
//!
//! - [`kafka`]: the broker settings ([`kafka::KafkaArgs`]) and the clients built from them:
//!   a producer that acknowledges only durable appends, a consumer that commits by hand, and
//!   the topics' creation.
//! - [`message`]: a grade as a Kafka record (the key, the wire format's JSON, the time it was
//!   accepted) and back, or why a record cannot be a grade.

pub mod kafka;
pub mod message;
